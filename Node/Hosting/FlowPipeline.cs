using FlowMesh.Cluster;
using FlowMesh.Cluster.Sessions;
using FlowMesh.Cluster.Placement;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Node.Actors;
using FlowMesh.Node.Kernel;
using Microsoft.Extensions.Logging;
using Proto;
using Proto.Cluster;

namespace FlowMesh.Node.Hosting;

/// <summary>
/// Everything between the ring readers and the flow actors, as one unit: the cluster
/// member hosting kind <c>flow</c>, one capture actor per CPU, dead-letter
/// redelivery. Fed through <see cref="Sink"/> by the kernel capture (the Node) or by
/// a synthetic source (the benchmark).
/// </summary>
internal sealed class FlowPipeline : IAsyncDisposable
{
    private const int MaxBatchesWaiting = 4096;
    private readonly CaptureBacklog _backlog = new(MaxBatchesWaiting);

    private FlowPipeline(ClusterMember member, NodeCounters counters, ClosedFlowWriter writer, FlowSweeper sweeper, FlowRegistry flows,
        SessionRouter sessions, FlowServices services, OrderingHorizon horizon, HorizonDispatcher dispatcher)
    {
        Horizon = horizon;
        _dispatcher = dispatcher;
        Member = member;
        Counters = counters;
        _writer = writer;
        _sweeper = sweeper;
        _sessions = sessions;
        Flows = flows;
        Services = services;
        Sink = null!;
    }

    private readonly ClosedFlowWriter _writer;
    private readonly FlowSweeper _sweeper;
    private readonly SessionRouter _sessions;
    private readonly HorizonDispatcher _dispatcher;

    /// <summary>How far every CPU's events have reached the flows (see <see cref="OrderingHorizon"/>).</summary>
    public OrderingHorizon Horizon { get; }

    /// <summary>Where closed (and long-lived) flows go to be joined into sessions.</summary>
    public SessionRouter Sessions => _sessions;

    /// <summary>What the flow actors share (the Node sets the kernel drop source here).</summary>
    public FlowServices Services { get; }

    public ClusterMember Member { get; }
    public NodeCounters Counters { get; }
    public FlowRegistry Flows { get; }
    public IRecordBatchSink Sink { get; private set; }

    public static async Task<FlowPipeline> StartAsync(RedisConnection redis, ClusterSettings cluster, string hostId, int cpus,
        FlowOptions flowOptions, ILoggerFactory loggers, Action<FlowServices>? configure = null, CancellationToken cancellation = default)
    {
        var counters = new NodeCounters();
        var keys = new RedisKeys(cluster.Name);
        var writer = new ClosedFlowWriter(redis, keys, flowOptions.ClosedTtl, counters);
        var services = new FlowServices(new FlowStore(redis, keys, flowOptions.OpenStateTtl), writer, counters, flowOptions, MonotonicClock.Sample());
        configure?.Invoke(services);
        var flows = new FlowRegistry(hostId);
        // The kind's props serve Proto's bookkeeping; the registry spawns flow actors itself (see FlowRegistry).
        var flowKind = new ClusterKind(ClusterKinds.Flow, Props.FromProducer(() => throw new InvalidOperationException("flows are spawned by FlowRegistry")));
        var member = await ClusterMember.StartMemberAsync(redis, cluster, hostId, ClusterKinds.NodeRole, [flowKind],
            new Dictionary<string, IActivationRegistry> { [ClusterKinds.Flow] = flows }, loggers, cancellation).ConfigureAwait(false);

        var system = member.System;
        var sessions = new SessionRouter(member, loggers.CreateLogger("FlowMesh.Sessions"));
        services.ToSession ??= sessions.Deliver;
        flows.Attach(system, handle => new FlowActor(services, flows, handle));
        DeadLetterRedelivery.Subscribe<FlowRecords>(system, (records, stopped) => flows.Reactivate(records.Cookie, stopped), counters);
        var sweeper = new FlowSweeper(flows, system.Root, flowOptions);
        sweeper.Start();
        var horizon = new OrderingHorizon(cpus, flowOptions.OrderingWait);
        var dispatcher = new HorizonDispatcher(horizon, system.Root);
        services.Horizon = dispatcher;
        var pipeline = new FlowPipeline(member, counters, writer, sweeper, flows, sessions, services, horizon, dispatcher);
        // One capture actor per CPU ring; the readers (their own threads) hand them batches.
        var captureActors = Enumerable.Range(0, Math.Max(1, cpus))
            .Select(cpu => system.Root.SpawnNamed(Props.FromProducer(() => new CaptureActor(flows, counters, pipeline._backlog, horizon)).WithLightMailbox(), $"capture-{cpu}"))
            .ToList();
        pipeline.Sink = new CaptureActorSink(system.Root, captureActors, pipeline._backlog, horizon);
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
    /// applies every event the flows still hold, whatever the horizon, and waits (bounded)
    /// until they have.
    /// </summary>
    public Task ReleaseHeldAsync(TimeSpan limit)
    {
        _dispatcher.ReleaseAll();
        return _dispatcher.WaitHandledAsync(limit);
    }

    /// <summary>Stops the flow actors (open ones save their state), writes the last closed flows and leaves the cluster.</summary>
    public async Task ShutdownAsync(string reason)
    {
        await _dispatcher.DisposeAsync().ConfigureAwait(false);
        await _sweeper.DisposeAsync().ConfigureAwait(false);
        await _sessions.FlushAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        await Member.ShutdownAsync(graceful: true, reason).ConfigureAwait(false);
        await _writer.FlushAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _dispatcher.DisposeAsync().ConfigureAwait(false);
        await _sweeper.DisposeAsync().ConfigureAwait(false);
        await _sessions.DisposeAsync().ConfigureAwait(false);
        await _writer.DisposeAsync().ConfigureAwait(false);
        await Member.DisposeAsync().ConfigureAwait(false);
    }
}
