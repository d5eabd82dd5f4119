using FlowMesh.Cluster;
using FlowMesh.Cluster.Placement;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.Node.Actors;
using FlowMesh.Node.Kernel;
using FlowMesh.Node.Kernel.Native;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Proto;
using Proto.Cluster;

namespace FlowMesh.Node.Hosting;

/// <summary>
/// The Node as a cluster member: joins the cluster (membership in Redis), starts the
/// kernel capture with one capture actor per CPU feeding flow actors, answers status
/// and relayed queries, and publishes its counters to Redis every second. Stops in
/// the reverse order, so every record the kernel wrote reaches a flow before the
/// flows save their state and the member leaves.
/// </summary>
internal sealed class NodeService(
    NodeSettings settings,
    ClusterSettings clusterSettings,
    FlowOptions flowOptions,
    ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private const int MaxBatchesWaiting = 4096;
    private readonly ILogger _logger = loggers.CreateLogger("FlowMesh.Node");
    private readonly NodeCounters _counters = new();
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private RedisConnection? _redis;
    private ClusterMember? _member;
    private CaptureSession? _capture;
    private CaptureBacklog? _backlog;
    private NodeStatusReporter? _reporter;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Capture requirements first: a host that cannot capture should not join the cluster.
        var captureOptions = settings.ToCaptureOptions();
        CaptureRequirements.Check(captureOptions);

        _redis = await RedisConnection.ConnectAsync(clusterSettings.Redis, _logger).ConfigureAwait(false);
        var keys = new RedisKeys(clusterSettings.Name);
        var clock = MonotonicClock.Sample();
        var services = new FlowServices(new FlowStore(_redis, keys, flowOptions.ClosedTtl, flowOptions.OpenStateTtl), _counters, flowOptions, clock);
        var flows = new FlowRegistry(settings.HostId);
        var flowKind = new ClusterKind(ClusterKinds.Flow, Props.FromProducer(() => new FlowActor(services)));

        _logger.LogInformation("Joining cluster {Cluster} through Redis {Redis} as host {HostId}", clusterSettings.Name, clusterSettings.Redis, settings.HostId);
        _member = await ClusterMember.StartMemberAsync(_redis, clusterSettings, settings.HostId, ClusterKinds.NodeRole, [flowKind],
            new Dictionary<string, IActivationRegistry> { [ClusterKinds.Flow] = flows }, loggers, cancellationToken).ConfigureAwait(false);
        var system = _member.System;
        var activations = _member.Lookup.Local!;
        DeadLetterRedelivery.Subscribe(system, flows, activations, _counters);

        // One capture actor per CPU ring; the readers (their own threads) hand them batches.
        var cpus = Math.Max(1, LibBpf.libbpf_num_possible_cpus());
        _backlog = new CaptureBacklog(MaxBatchesWaiting);
        var captureActors = Enumerable.Range(0, cpus)
            .Select(cpu => system.Root.SpawnNamed(Props.FromProducer(() => new CaptureActor(flows, activations, _counters, _backlog)), $"capture-{cpu}"))
            .ToList();
        _capture = CaptureSession.Start(captureOptions, new CaptureActorSink(system.Root, captureActors, _backlog));

        _reporter = new NodeStatusReporter(_redis, keys, () => Status(), TimeSpan.FromSeconds(settings.StatusIntervalSeconds), _logger);
        system.Root.SpawnNamed(Props.FromProducer(() => new NodeControlActor(() => Status(), clusterSettings.RequestTimeout)), ClusterKinds.NodeControlActor);
        _reporter.Start();

        _logger.LogInformation("FlowMesh Node {HostId} is member {MemberId} at {Address}; capturing {Namespace} on {Cpus} CPUs ({Existing} connections already open)",
            settings.HostId, system.Id, system.Address, _capture.Namespace, _capture.Cpus, _capture.ExistingSockets);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_reporter is not null)
            await _reporter.StopAsync().ConfigureAwait(false);
        if (_capture is not null)
        {
            var summary = _capture.Stop();
            await DrainBacklogAsync().ConfigureAwait(false);
            _logger.LogInformation("Capture stopped: {Records} records, {Drops} dropped by the kernel, {DecodeErrors} malformed", summary.Records, summary.Drops, summary.DecodeErrors);
        }
        if (_member is not null)
        {
            // Flow actors stop here; open ones save their state first.
            await _member.ShutdownAsync(graceful: true, "node stopping").ConfigureAwait(false);
            _logger.LogInformation("Left the cluster; {Events} events applied to flows, {Undeliverable} undeliverable, {RedisFailures} Redis failures",
                _counters.FlowEvents, _counters.Undeliverable, _redis?.Failures ?? 0);
        }
    }

    private async Task DrainBacklogAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_backlog!.Waiting > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10).ConfigureAwait(false);
    }

    private NodeStatus Status()
    {
        var capture = _capture?.Snapshot();
        var status = new NodeStatus
        {
            HostId = settings.HostId,
            MemberId = _member?.System.Id ?? "",
            UpdatedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            UptimeMs = (long)(DateTimeOffset.UtcNow - _started).TotalMilliseconds,
            KernelRecords = capture?.Records ?? 0,
            KernelDrops = capture?.Drops ?? 0,
            KernelStorageFailures = capture?.StorageFailures ?? 0,
            DecodeErrors = capture?.DecodeErrors ?? 0,
            FlowEvents = _counters.FlowEvents,
            ListenerEvents = _counters.ListenerEvents,
            FlowsActive = _counters.FlowsActive,
            FlowsOpened = _counters.FlowsOpened,
            FlowsClosed = _counters.FlowsClosed,
            FlowsPassivated = _counters.FlowsPassivated,
            FlowsRestored = _counters.FlowsRestored,
            Redelivered = _counters.Redelivered,
            Undeliverable = _counters.Undeliverable,
            DeadLetters = _counters.DeadLetters,
            Anomalies = _counters.Anomalies,
            RedisFailures = _redis?.Failures ?? 0,
            RedisWrites = _redis?.Writes ?? 0,
            StateConflicts = _counters.StateConflicts,
        };
        if (_member is not null)
            status.Members.AddRange(_member.Cluster.MemberList.GetAllMembers().Select(m => m.Id).Order(StringComparer.Ordinal));
        return status;
    }

    public async ValueTask DisposeAsync()
    {
        _reporter?.Dispose();
        _capture?.Dispose();
        if (_member is not null)
            await _member.DisposeAsync().ConfigureAwait(false);
        else if (_redis is not null)
            await _redis.DisposeAsync().ConfigureAwait(false);
    }
}
