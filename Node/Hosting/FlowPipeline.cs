using FlowMesh.Cluster;
using FlowMesh.Cluster.Placement;
using FlowMesh.Cluster.Redis;
using FlowMesh.Cluster.Sessions;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Node.Actors;
using FlowMesh.Node.Kernel;
using Microsoft.Extensions.Logging;
using Proto;
using Proto.Cluster;

namespace FlowMesh.Node.Hosting;

/// <summary>
/// Everything between the ring readers and the flows, as one unit: the cluster member
/// hosting kind <c>flow</c>, one capture actor per CPU, the flow shards and the ordering
/// horizon that feeds them. Fed through <see cref="Sink"/> by the kernel capture (the
/// Node) or by a synthetic source (the benchmark).
/// </summary>
internal sealed class FlowPipeline : IAsyncDisposable
{
    private const int MaxBatchesWaiting = 4096;
    private readonly CaptureBacklog _backlog = new(MaxBatchesWaiting);
    private readonly ShardTicker _sweeper;
    private readonly HorizonDispatcher _dispatcher;

    private FlowPipeline(ClusterMember member, NodeCounters counters, FlowShards shards, ShardTicker sweeper,
        SessionRouter sessions, FlowServices services, HorizonDispatcher dispatcher)
    {
        Member = member;
        Counters = counters;
        Shards = shards;
        _sweeper = sweeper;
        Sessions = sessions;
        Services = services;
        _dispatcher = dispatcher;
        Sink = null!;
    }

    /// <summary>Where closed (and long-lived) flows go to be joined into sessions.</summary>
    public SessionRouter Sessions { get; }

    /// <summary>What the flow shards share (the Node sets the kernel drop source here).</summary>
    public FlowServices Services { get; }


    public ClusterMember Member { get; }
    public NodeCounters Counters { get; }
    public FlowShards Shards { get; }
    public IRecordBatchSink Sink { get; private set; }

    /// <summary>How far every CPU's ring has reached the flows (the capture wakes idle readers when events wait for it).</summary>
    public OrderingHorizon Horizon { get; private set; } = null!;

    public static async Task<FlowPipeline> StartAsync(RedisConnection redis, ClusterSettings cluster, string hostId, int cpus,
        FlowOptions flowOptions, ILoggerFactory loggers, HandOffOptions? handOff = null, CancellationToken cancellation = default)
    {
        cpus = Math.Max(1, cpus);
        var counters = new NodeCounters();
        var keys = new RedisKeys(cluster.Name);
        var store = new FlowStore(redis, keys, flowOptions.OpenStateTtl);
        var services = new FlowServices(store, counters, flowOptions, new WallClockOffset());
        // The flow kind is activated on demand (a query); its state lives in the shards, made once the system exists.
        FlowShards? shards = null;
        var flowKind = new ClusterKind(ClusterKinds.Flow, Props.FromProducer(() => new FlowQueryActor(shards!, store, hostId, cluster.RequestTimeout)));
        var member = await ClusterMember.StartMemberAsync(redis, cluster, hostId, ClusterKinds.NodeRole, [flowKind], loggers, cancellation).ConfigureAwait(false);

        var system = member.System;
        var sessions = new SessionRouter(member, loggers.CreateLogger("FlowMesh.Sessions"), handOff);
        services.ToSession ??= sessions.Deliver;
        var horizon = new OrderingHorizon(cpus, flowOptions.OrderingWait);
        var dispatcher = new HorizonDispatcher(horizon, system.Root);
        services.Dispatcher = dispatcher;
        // One shard per CPU: each socket's flow lives in one of them, by its cookie.
        shards = new FlowShards(Enumerable.Range(0, cpus).Select(i =>
        {
            var waiter = new HorizonWaiter();
            waiter.Pid = system.Root.SpawnNamed(Props.FromProducer(() => new FlowShard(services, hostId, waiter)).WithKeepStateOnFailure(counters), $"flows-{i}");
            return waiter.Pid;
        }).ToList());
        DeadLetterCounting.Subscribe<ShardRecords>(system, counters);
        // Once a second every shard reports long-lived flows, passivates idle ones and forgets closed ones.
        var sweeper = new ShardTicker(system.Root, shards.All, SweepShard.Instance, TimeSpan.FromSeconds(1));
        var pipeline = new FlowPipeline(member, counters, shards, sweeper, sessions, services, dispatcher);
        // One capture actor per CPU ring; the readers (their own threads) hand them batches.
        var captureActors = Enumerable.Range(0, cpus)
            .Select(cpu => system.Root.SpawnNamed(Props.FromProducer(() => new CaptureActor(shards, counters, pipeline._backlog, horizon)).WithLightMailbox(), $"capture-{cpu}"))
            .ToList();
        pipeline.Sink = new CaptureActorSink(system.Root, captureActors, pipeline._backlog, horizon);
        pipeline.Horizon = horizon;
        return pipeline;
    }

    /// <summary>Waits (bounded) until the capture actors have handled every batch handed to them.</summary>
    public async Task DrainAsync(TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (_backlog.Waiting > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(5).ConfigureAwait(false);
    }

    /// <summary>
    /// Once the capture has stopped and every batch is routed (<see cref="DrainAsync"/>):
    /// applies every event the shards still hold, whatever the horizon, and waits (bounded)
    /// until they have.
    /// </summary>
    public Task ReleaseHeldAsync(TimeSpan limit)
    {
        _dispatcher.ReleaseAll();
        return _dispatcher.WaitHandledAsync(limit);
    }

    /// <summary>Hands the last closed flows over, stops the shards (open flows save their state) and leaves the cluster.</summary>
    public async Task ShutdownAsync(string reason)
    {
        await _dispatcher.DisposeAsync().ConfigureAwait(false);
        await _sweeper.DisposeAsync().ConfigureAwait(false);
        await Sessions.FlushAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        foreach (var shard in Shards.All)
            await Member.System.Root.StopAsync(shard).ConfigureAwait(false);
        await Member.ShutdownAsync(graceful: true, reason).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _dispatcher.DisposeAsync().ConfigureAwait(false);
        await _sweeper.DisposeAsync().ConfigureAwait(false);
        await Sessions.DisposeAsync().ConfigureAwait(false);
        await Member.DisposeAsync().ConfigureAwait(false);
    }
}
