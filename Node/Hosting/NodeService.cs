using FlowMesh.Cluster;
using FlowMesh.Cluster.Redis;
using FlowMesh.Cluster.Sessions;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.Hosting;
using FlowMesh.Node.Actors;
using FlowMesh.Node.Flows;
using FlowMesh.Node.Kernel;
using FlowMesh.Node.Kernel.Native;
using FlowMesh.Node.Runtime;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Proto;

namespace FlowMesh.Node.Hosting;

/// <summary>
/// The Node as a cluster member: joins the cluster (membership in Redis), starts the
/// kernel capture with one capture actor per CPU feeding the flow shards, answers status
/// and relayed queries, and publishes its counters to Redis every second. Stops in
/// the reverse order, so every record the kernel wrote reaches a flow before the
/// flows save their state and the member leaves.
/// </summary>
internal sealed class NodeService(
    NodeSettings settings,
    ClusterSettings clusterSettings,
    FlowOptions flowOptions,
    HandOffOptions handOffOptions,
    ILoggerFactory loggers,
    IHostApplicationLifetime lifetime) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _logger = loggers.CreateLogger("FlowMesh.Node");
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private RedisConnection? _redis;
    private FlowPipeline? _pipeline;
    private CaptureSession? _capture;
    private NodeStatusReporter? _reporter;
    private AliveFile? _alive;
    private TagKeyFile? _tagKeys;
    private RuntimeMonitor? _runtime;
    private ListenerDropReporter? _listeners;
    private KernelSweeper? _sweeper;
    private HostTcpCounters? _hostTcp;
    private Identity.NodeWorkloads? _workloads;
    private long _kernelDrops;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Capture requirements first: a host that cannot capture should not join the cluster.
        var captureOptions = settings.ToCaptureOptions();
        CaptureRequirements.Check(captureOptions);
        if (settings.TagKeyFile is { Length: > 0 } keyFile)
        {
            // Set before capture starts: the first SYN is signed, the first peer tag checked.
            var keys = TagKeyFile.Read(keyFile);
            TagAuthenticator.SetKeys(keys);
            captureOptions = captureOptions with { TagKey = keys[0] };
        }

        _redis = await RedisConnection.ConnectAsync(clusterSettings.Redis, _logger).ConfigureAwait(false);
        _logger.LogInformation("Joining cluster {Cluster} through Redis {Redis} as host {HostId}", clusterSettings.Name, _redis.Endpoint, settings.HostId);
        _pipeline = await FlowPipeline.StartAsync(_redis, clusterSettings, settings.HostId, LibBpf.libbpf_num_possible_cpus(), flowOptions, loggers,
            handOff: handOffOptions, cancellation: cancellationToken).ConfigureAwait(false);
        _capture = CaptureSession.Start(captureOptions, _pipeline.Sink);
        _pipeline.Horizon.Wanted = _capture.NudgeReaders;
        if (settings.TagKeyFile is { Length: > 0 } watched)
        {
            _tagKeys = new TagKeyFile(watched, _capture, _logger);
            _tagKeys.Start();
        }
        _runtime = new RuntimeMonitor(_capture.Kernel, settings.Runtime, _redis, _pipeline.Member.Keys, settings.HostId, loggers.CreateLogger("FlowMesh.Node.Runtime"));
        _pipeline.Services.Runtime = _runtime;
        _pipeline.Services.Workloads = _workloads = new Identity.NodeWorkloads(Identity.CgroupResolver.ForThisHost(settings.MaxCgroups), settings.Kubernetes,
            loggers.CreateLogger("FlowMesh.Kubernetes"));
        _runtime.Start();
        var listenerEvery = TimeSpan.FromSeconds(settings.ListenerSeconds > 0 ? settings.ListenerSeconds : 5);
        if (settings.ListenerSeconds > 0)
            _listeners = new ListenerDropReporter(_capture.Kernel, _redis, _pipeline.Member.Keys, listenerEvery, settings.MaxListeners, loggers.CreateLogger("FlowMesh.Node.Listeners"));
        _hostTcp = new HostTcpCounters(_capture.Namespace);
        _sweeper = new KernelSweeper(_capture.Kernel, _listeners, _hostTcp, listenerEvery, flowOptions.SessionReport, _logger);
        await _sweeper.StartAsync().ConfigureAwait(false);
        if (_capture.Kernel.AcceptUnavailable is { } noAccept)
            _logger.LogWarning("accept() is not traced, so servers are named by their listener's process and accept-queue waits are not measured: {Reason}", noAccept);
        // Sampled once per status interval (reading the kernel counters is a syscall): a flow
        // compares the value at its start and at its close.
        _pipeline.Services.KernelDrops = () => Volatile.Read(ref _kernelDrops);

        ExpulsionExit.Register(_pipeline.Member, lifetime, _logger);
        var system = _pipeline.Member.System;
        _reporter = new NodeStatusReporter(_redis, _pipeline.Member.Keys, Status, TimeSpan.FromSeconds(settings.StatusIntervalSeconds), _logger);
        system.Root.SpawnNamed(Props.FromProducer(() => new NodeControlActor(Status, _pipeline.Shards, clusterSettings.RequestTimeout)), ClusterKinds.NodeControlActor);
        _reporter.Start();
        if (settings.AliveFile is { Length: > 0 } alivePath)
        {
            var member = _pipeline.Member;
            var control = PID.FromAddress(system.Address, ClusterKinds.NodeControlActor);
            _alive = new AliveFile(alivePath, async ct =>
            {
                if (member.Expelled.IsCancellationRequested)
                    return false;
                try
                {
                    return await system.Root.RequestAsync<NodeStatusResponse>(control, new NodeStatusRequest(), TimeSpan.FromSeconds(2)).ConfigureAwait(false) is not null;
                }
                catch (TimeoutException)
                {
                    return false;
                }
            }, _logger);
            _alive.Start();
        }

        _logger.LogInformation("FlowMesh Node {HostId} is member {MemberId} at {Address}; capturing {Namespace} on {Cpus} CPUs ({Existing} connections already open)",
            settings.HostId, system.Id, system.Address, _capture.Namespace, _capture.Cpus, _capture.ExistingSockets);
        _logger.LogInformation("Following at most {MaxLive} live flows (Flows:MaxLive; this process may use {AvailableMiB} MiB)",
            flowOptions.MaxLive, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >> 20);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_alive is not null)
            await _alive.DisposeAsync().ConfigureAwait(false);
        if (_tagKeys is not null)
            await _tagKeys.DisposeAsync().ConfigureAwait(false);
        if (_reporter is not null)
            await _reporter.StopAsync().ConfigureAwait(false);
        if (_runtime is not null)
            await _runtime.DisposeAsync().ConfigureAwait(false);
        if (_sweeper is not null)
            await _sweeper.DisposeAsync().ConfigureAwait(false);
        if (_workloads is not null)
            await _workloads.DisposeAsync().ConfigureAwait(false);
        if (_capture is not null)
        {
            var summary = _capture.Stop();
            await _pipeline!.DrainAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            // Every ring is drained: nothing older can come, so what the flows hold applies now.
            await _pipeline.ReleaseHeldAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            _logger.LogInformation("Capture stopped: {Records} records, {Drops} dropped by the kernel, {DecodeErrors} malformed", summary.Records, summary.Drops, summary.DecodeErrors);
        }
        if (_pipeline is not null)
        {
            // The flow shards stop here; open flows save their state first.
            await _pipeline.ShutdownAsync("node stopping").ConfigureAwait(false);
            _logger.LogInformation("Left the cluster; {Events} events applied to flows, {Undeliverable} undeliverable, {RedisFailures} Redis failures",
                _pipeline.Counters.FlowEvents, _pipeline.Counters.Undeliverable, _redis?.Failures ?? 0);
        }
    }

    private NodeStatus Status()
    {
        var capture = _capture?.Snapshot();
        if (capture is not null)
            Volatile.Write(ref _kernelDrops, capture.Drops);
        var counters = _pipeline?.Counters ?? new NodeCounters();
        var (delayP50, delayP99) = counters.ApplyDelay.Percentiles();
        var status = new NodeStatus
        {
            ApplyDelayP50Us = delayP50,
            ApplyDelayP99Us = delayP99,
            HostId = settings.HostId,
            MemberId = _pipeline?.Member.System.Id ?? "",
            UpdatedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            UptimeMs = (long)(DateTimeOffset.UtcNow - _started).TotalMilliseconds,
            KernelRecords = capture?.Records ?? 0,
            KernelDrops = capture?.Drops ?? 0,
            KernelStorageFailures = capture?.StorageFailures ?? 0,
            DecodeErrors = capture?.DecodeErrors ?? 0,
            FlowEvents = counters.FlowEvents,
            ListenerEvents = counters.ListenerEvents,
            SocketlessResets = counters.SocketlessResets,
            FlowsActive = counters.FlowsActive,
            FlowsOpened = counters.FlowsOpened,
            FlowsClosed = counters.FlowsClosed,
            FlowsPassivated = counters.FlowsPassivated,
            FlowsRestored = counters.FlowsRestored,
            Undeliverable = counters.Undeliverable,
            DeadLetters = counters.DeadLetters,
            Anomalies = counters.Anomalies,
            HorizonExpired = counters.HorizonExpired,
            LateEvents = counters.LateEventsDropped,
            FlowsShed = counters.FlowsShed,
            EventsShed = counters.EventsShedCount,
            RedisFailures = _redis?.Failures ?? 0,
            RedisWrites = _redis?.Writes ?? 0,
            StateConflicts = counters.StateConflicts,
            SessionDelivered = _pipeline?.Sessions.Delivered ?? 0,
            SessionUndelivered = _pipeline?.Sessions.Undelivered ?? 0,
            SessionResent = _pipeline?.Sessions.Resent ?? 0,
            SessionUnconfirmed = _pipeline?.Sessions.Unconfirmed ?? 0,
            SessionUntracked = _pipeline?.Sessions.Untracked ?? 0,
            TagsSent = counters.TagsSent,
            TagsEchoed = counters.TagsEchoed,
            TagsReceived = counters.TagsReceived,
            TagsForged = counters.TagsForged,
            TlsRefused = clusterSettings.Tls?.Refused ?? 0,
            RuntimeProcesses = _runtime?.Watched ?? 0,
            RuntimeNotWatched = (_runtime?.NotWatched ?? 0) + (capture?.RuntimeProcessesFull ?? 0),
            RuntimeTableFull = capture?.RuntimeTableFull ?? 0,
            RuntimeEventsLost = _runtime?.DotnetEventsLost ?? 0,
            RuntimeUnavailable = _capture?.Kernel.AcceptUnavailable ?? "",
            Listeners = _listeners?.Listeners ?? 0,
            ListenDrops = _listeners?.Drops ?? 0,
            ListenersUnwatched = _listeners?.Unwatched ?? 0,
            ListenOverflows = _hostTcp?.ListenOverflows ?? 0,
            ZeroWindowAdverts = _hostTcp?.ZeroWindowAdverts ?? 0,
            ZeroWindowDrops = _hostTcp?.ZeroWindowDrops ?? 0,
            CgroupsUnresolved = _workloads?.Cgroups.Unresolved ?? 0,
            CgroupNamesReset = _workloads?.Cgroups.Resets ?? 0,
            KubernetesPods = _workloads?.Pods ?? 0,
            KubernetesErrors = _workloads?.KubernetesErrors ?? 0,
            KubernetesPodsShed = _workloads?.PodsShed ?? 0,
        };
        if (_pipeline is not null)
            status.Members.AddRange(_pipeline.Member.Cluster.MemberList.GetAllMembers().Select(m => m.Id).Order(StringComparer.Ordinal));
        return status;
    }

    public async ValueTask DisposeAsync()
    {
        _reporter?.Dispose();
        _capture?.Dispose();
        if (_pipeline is not null)
            await _pipeline.DisposeAsync().ConfigureAwait(false);
        else if (_redis is not null)
            await _redis.DisposeAsync().ConfigureAwait(false);
    }
}
