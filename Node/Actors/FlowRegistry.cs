using System.Collections.Concurrent;
using FlowMesh.Cluster.Placement;
using FlowMesh.Contracts.Cluster;
using Proto;
using Proto.Cluster;

namespace FlowMesh.Node.Actors;

/// <summary>
/// A live flow actor as the Node sees it: its PID and what the sweeper needs to
/// decide when it should passivate, written by the actor (one plain field write per
/// message, instead of one timer per actor).
/// </summary>
internal sealed class FlowHandle(string hostId, ulong cookie)
{
    public string HostId { get; } = hostId;
    public ulong Cookie { get; } = cookie;
    public PID Pid { get; set; } = null!;

    /// <summary>Environment.TickCount64 of the last message the actor handled.</summary>
    public long LastActivityMs { get; set; } = Environment.TickCount64;
    public bool Closed { get; set; }

    /// <summary>Set by the sweeper when it asked the actor to passivate (so it asks once).</summary>
    public bool PassivationRequested { get; set; }

    /// <summary>Environment.TickCount64 when the flow last reported to its session.</summary>
    public long LastReportMs { get; set; } = Environment.TickCount64;

    // 1 while the flow is on the horizon dispatcher's list (so it is there once).
    private int _awaitingHorizon;

    public bool TryMarkAwaitingHorizon() => Interlocked.CompareExchange(ref _awaitingHorizon, 1, 0) == 0;

    public void ClearAwaitingHorizon() => Volatile.Write(ref _awaitingHorizon, 0);

    /// <summary>Whether it has been quiet long enough to leave memory: a closed flow after lingering, an open one after being idle.</summary>
    public bool QuietLongEnough(long nowMs, FlowOptions options) =>
        nowMs - LastActivityMs >= (Closed ? options.Linger : options.Idle).TotalMilliseconds;
}

/// <summary>
/// The flow actors this Node hosts, keyed by socket cookie for its own host, so the
/// capture path finds a flow without building its identity string. It also spawns
/// them: with the cookie in the constructor instead of Proto's per-actor context
/// store, and a light mailbox, a flow actor fits the per-flow memory budget. Flows
/// of other hosts (activated here only while their host has no member) go to a
/// second map.
/// </summary>
internal sealed class FlowRegistry(string hostId) : IActivationRegistry
{
    private readonly ConcurrentDictionary<ulong, FlowHandle> _own = new();
    private readonly ConcurrentDictionary<ClusterIdentity, FlowHandle> _others = new();
    private readonly Lock _spawnLock = new();
    private ActorSystem? _system;
    private Props? _props;

    // The handle of the flow being spawned, read by the shared Props' producer: Proto
    // creates the actor inside Spawn, on the spawning thread. One Props for all flows
    // instead of one Props and closure per flow saves ~200 bytes of every live flow.
    [ThreadStatic]
    private static FlowHandle? t_spawning;

    public string HostId { get; } = hostId;

    /// <summary>
    /// Set once the actor system exists (activations before that fail). A flow actor
    /// that fails is stopped, never restarted: a restart would create the actor again
    /// outside <see cref="Spawn"/>, with no handle to give it.
    /// </summary>
    public void Attach(ActorSystem system, Func<FlowHandle, IActor> create)
    {
        _props = Props.FromProducer(() => create(t_spawning ?? throw new InvalidOperationException("flow actors are created only by FlowRegistry.Spawn")))
            .WithLightMailbox()
            .WithGuardianSupervisorStrategy(new OneForOneStrategy((_, _) => SupervisorDirective.Stop, 0, null));
        _system = system;
    }

    /// <summary>A snapshot of the live handles of this host's own connections (not of flows asked about from elsewhere).</summary>
    public ICollection<FlowHandle> OwnHandles => _own.Values;

    /// <summary>Every live handle, enumerated in place (no snapshot: the sweeper walks this often).</summary>
    public IEnumerable<FlowHandle> Handles
    {
        get
        {
            foreach (var entry in _own)
                yield return entry.Value;
            if (_others.IsEmpty)
                yield break;
            foreach (var entry in _others)
                yield return entry.Value;
        }
    }

    public bool TryGetOwn(ulong cookie, out PID pid)
    {
        if (_own.TryGetValue(cookie, out var handle))
        {
            pid = handle.Pid;
            return true;
        }
        pid = null!;
        return false;
    }

    /// <summary>A fresh flow actor for a cookie of this host whose actor <paramref name="stopped"/> may not have taken itself out yet.</summary>
    public PID Reactivate(ulong cookie, PID stopped)
    {
        if (_own.TryGetValue(cookie, out var handle) && handle.Pid.Equals(stopped))
            _own.TryRemove(new KeyValuePair<ulong, FlowHandle>(cookie, handle));
        return ActivateOwn(cookie);
    }

    /// <summary>The flow actor of a cookie of this host, spawned if it has none.</summary>
    public PID ActivateOwn(ulong cookie) =>
        _own.TryGetValue(cookie, out var handle) ? handle.Pid : Spawn(HostId, cookie, null);

    /// <summary>Spawns flow actors its own way (see the class), not with the kind's props.</summary>
    public PID Activate(ClusterIdentity identity, Func<ClusterIdentity, PID> spawn) => Activate(identity);

    public PID Activate(ClusterIdentity identity)
    {
        if (!ClusterKinds.TryParseFlowIdentity(identity.Identity, out var host, out var cookie))
            throw new ArgumentException($"not a flow identity: {identity.Identity}", nameof(identity));
        if (host == HostId)
            return ActivateOwn(cookie);
        return _others.TryGetValue(identity, out var handle) ? handle.Pid : Spawn(host, cookie, identity);
    }

    private PID Spawn(string host, ulong cookie, ClusterIdentity? otherHost)
    {
        var system = _system ?? throw new InvalidOperationException("flow registry used before the actor system started");
        lock (_spawnLock)
        {
            // Re-check under the lock: two capture actors (or a capture and a query) may race here.
            if (otherHost is null ? _own.TryGetValue(cookie, out var existing) : _others.TryGetValue(otherHost, out existing))
                return existing.Pid;
            var handle = new FlowHandle(host, cookie);
            t_spawning = handle;
            try
            {
                handle.Pid = system.Root.Spawn(_props!);
            }
            finally
            {
                t_spawning = null;
            }
            if (otherHost is null)
                _own[cookie] = handle;
            else
                _others[otherHost] = handle;
            return handle.Pid;
        }
    }

    /// <summary>Called by a flow actor as it stops.</summary>
    public void Remove(FlowHandle handle)
    {
        if (handle.HostId == HostId)
            _own.TryRemove(new KeyValuePair<ulong, FlowHandle>(handle.Cookie, handle));
        else
            _others.TryRemove(new KeyValuePair<ClusterIdentity, FlowHandle>(ClusterIdentity.Create(ClusterKinds.FlowIdentity(handle.HostId, handle.Cookie), ClusterKinds.Flow), handle));
    }

    /// <summary>Forgets a flow whose actor stopped without taking itself out (a dead letter came back from it).</summary>
    public bool TryRemove(ClusterIdentity identity, PID pid)
    {
        if (!ClusterKinds.TryParseFlowIdentity(identity.Identity, out var host, out var cookie))
            return false;
        return host == HostId
            ? _own.TryGetValue(cookie, out var own) && own.Pid.Equals(pid) && _own.TryRemove(new KeyValuePair<ulong, FlowHandle>(cookie, own))
            : _others.TryGetValue(identity, out var other) && other.Pid.Equals(pid) && _others.TryRemove(new KeyValuePair<ClusterIdentity, FlowHandle>(identity, other));
    }

    public int Count => _own.Count + _others.Count;

    public IEnumerable<PID> All => Handles.Select(h => h.Pid);
}

/// <summary>Asks a flow actor to passivate if it is still idle (sent by the sweeper).</summary>
internal sealed class Passivate
{
    public static readonly Passivate Instance = new();
}

/// <summary>Asks an open flow to report its view to its session (sent by the sweeper to long-lived flows).</summary>
internal sealed class ReportToSession
{
    public static readonly ReportToSession Instance = new();
}

/// <summary>
/// Once a second, asks every flow that has been quiet past its deadline to passivate:
/// closed flows after the linger time, open ones after the idle time.
/// </summary>
internal sealed class FlowSweeper(FlowRegistry registry, IRootContext root, FlowOptions options) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public void Start() => _loop = Task.Run(RunAsync);

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Clamp(Math.Min(options.Linger.TotalSeconds, options.Idle.TotalSeconds) / 4, 0.25, 1)));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                Sweep(Environment.TickCount64);
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal void Sweep(long nowMs)
    {
        var report = (long)options.SessionReport.TotalMilliseconds;
        foreach (var h in registry.Handles)
        {
            if (!h.Closed && nowMs - h.LastReportMs >= report)
            {
                h.LastReportMs = nowMs;
                root.Send(h.Pid, ReportToSession.Instance);
            }
            if (h.PassivationRequested || !h.QuietLongEnough(nowMs, options))
                continue;
            h.PassivationRequested = true;
            root.Send(h.Pid, Passivate.Instance);
        }
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
