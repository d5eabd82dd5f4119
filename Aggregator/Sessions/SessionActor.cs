using FlowMesh.Aggregator.Latency;
using FlowMesh.Aggregator.Live;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Proto;
using Proto.Cluster;
using FlowMesh.Cluster.Placement;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>What every session actor of an Aggregator shares.</summary>
public sealed record SessionServices(SessionStore Store, AggregatorCounters Counters, SessionOptions Options, TagSurvival? Tags = null,
    LatencyRecorder? Latency = null, LiveEventPublisher? Live = null, TupleAliases? Aliases = null)
{
    /// <summary>Called with every settled session, and again when a late side joins a one-sided one (OTLP export plugs in here).</summary>
    public Action<SessionView>? OnSettled { get; set; }

    /// <summary>Hands a flow to the session of its (pinned) key, on whichever Aggregator owns it: how a mid-life side joins its peer.</summary>
    public Action<FlowView>? Forward { get; set; }
}

public sealed record SessionOptions
{
    /// <summary>How long a session with one closed side waits for the other before it is settled as one-sided.</summary>
    public TimeSpan JoinWindow { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long a settled session stays in memory, for a side's trailing events (a reset
    /// just behind its close); queries after that are answered from Redis (it keeps the
    /// session for <see cref="Ttl"/>). Short on purpose: sessions that live for seconds
    /// outlast the young GC generations and made the Aggregator's pauses long (measured
    /// with `bench`: P99 150 ms at 2 s, 60 ms at 0.5 s, 10k sessions/s).
    /// </summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>A session whose sides are open and silent this long leaves memory (it comes back with the next report).</summary>
    public TimeSpan Idle { get; init; } = TimeSpan.FromMinutes(3);

    public TimeSpan Ttl { get; init; } = TimeSpan.FromHours(24);
}

/// <summary>
/// One connection seen across the fleet (ClusterKind <c>session</c>, identity: its
/// session key): collects the flows reported under the key by the Nodes on each end
/// and settles the session when both sides have closed, or as one-sided when the
/// other side has not shown up within the join window. A side that arrives later
/// settles it again, joined.
///
/// A side first seen mid-life has no ISNs and no tag, so it arrives under its tuple,
/// apart from a peer that has them. Before settling such a side one-sided (after two join
/// windows, so the peer has settled by then), the session looks for a one-sided peer
/// under the same tuple (<see cref="TupleAliases"/>) and, if there is one, hands its side
/// over to it, flagged as joined by tuple, instead of settling alone.
/// </summary>
internal sealed class SessionActor(SessionServices services) : IActor
{
    private readonly Dictionary<(string Host, ulong Cookie), FlowView> _flows = [];
    private string _key = "";
    private long _timeoutAtMs; // when the receive timeout set last is due (Environment.TickCount64)
    private string? _id; // fixed by the first view: a tuple session's id must not move when a side with an earlier start arrives
    private SessionView? _settled;
    private bool _waitingForPeer;

    public Task ReceiveAsync(IContext context) => context.Message switch
    {
        SessionFlow arrived => OnFlow(context, arrived.Flow),
        SessionQuery => OnQueryAsync(context),
        ReceiveTimeout => OnTimeout(context),
        Started => OnStarted(context),
        Stopped => OnStopped(),
        _ => Task.CompletedTask,
    };

    private Task OnStarted(IContext context)
    {
        _key = context.ClusterIdentity()?.Identity ?? "";
        services.Counters.SessionStarted();
        Arm(context, services.Options.Idle);
        return Task.CompletedTask;
    }

    private Task OnStopped()
    {
        services.Counters.SessionStopped();
        // Counted once, as it ended up: a one-sided session a late side joined counts as
        // joined only, and the counters still only ever grow.
        if (_settled is { } settled)
            services.Counters.Settled(settled);
        return Task.CompletedTask;
    }

    private Task OnFlow(IContext context, FlowView flow)
    {
        _flows[(flow.HostId, flow.Cookie)] = flow;
        var view = Build();
        var bothSides = view.Client is not null && view.Server is not null;
        if (view.Closed && (bothSides || _settled is not null))
        {
            // Both ends closed; or a settled side told again (a reset just behind its close): keep the store right.
            Settle(context, view);
        }
        else if (view.Closed)
        {
            // One side has closed and the other has not shown up: give it the join window.
            if (_settled is null && !_waitingForPeer)
            {
                _waitingForPeer = true;
                Arm(context, MayHavePeerElsewhere() ? services.Options.JoinWindow * 2 : services.Options.JoinWindow);
            }
        }
        else
        {
            // Still open: keep the live view where queries find it.
            services.Store.Save(view);
            Arm(context, services.Options.Idle);
        }
        return Task.CompletedTask;
    }

    private Task OnTimeout(IContext context)
    {
        if (_waitingForPeer) // set only while unsettled, with a side in hand
        {
            if (MayHavePeerElsewhere())
                return JoinPeerByTupleAsync(context);
            SettleAlone(context);
            return Task.CompletedTask;
        }
        context.Stop(context.Self);
        return Task.CompletedTask;
    }

    private void Arm(IContext context, TimeSpan after)
    {
        _timeoutAtMs = Environment.TickCount64 + (long)after.TotalMilliseconds;
        context.SetReceiveTimeout(after);
    }

    private SessionView Build()
    {
        var view = SessionJoin.Build(_key, _flows.Values, _id);
        _id = view.Id;
        return view;
    }

    /// <summary>Only sides known by their tuple alone: their peer may wait under a tag or ISN key.</summary>
    private bool MayHavePeerElsewhere()
    {
        if (services.Aliases is null || services.Forward is null || SessionKeys.MethodOf(_key) != JoinMethod.Tuple)
            return false;
        foreach (var flow in _flows.Values)
        {
            if (!SessionKeys.KnownOnlyByTuple(flow))
                return false;
        }
        return true;
    }

    /// <summary>Settles the session with the side(s) it has; a one-sided tag or ISN session says where it waits under its tuple.</summary>
    private void SettleAlone(IContext context)
    {
        var view = Build();
        Settle(context, view);
        if (view.Join == JoinMethod.OneSided && SessionKeys.MethodOf(_key) != JoinMethod.Tuple && services.Aliases is { } aliases)
        {
            foreach (var flow in _flows.Values)
                aliases.Publish(SessionKeys.TupleKey(flow), _key);
            // Stay for a mid-life peer, which looks for this session after two join windows.
            Arm(context, services.Options.JoinWindow * 3);
        }
    }

    private async Task JoinPeerByTupleAsync(IContext context)
    {
        var peer = await services.Aliases!.FindAsync(_key).ConfigureAwait(false);
        if (peer is null || peer == _key)
        {
            SettleAlone(context);
            return;
        }
        // The peer's session takes this side; this one was never stored, so nothing is left behind.
        _waitingForPeer = false;
        foreach (var flow in _flows.Values)
        {
            var moved = flow.Clone();
            moved.SessionKey = peer;
            moved.JoinedByTuple = true;
            services.Forward!(moved);
        }
        services.Counters.SideMovedToPeer(_flows.Count);
        context.Stop(context.Self);
    }

    /// <summary>
    /// Stores the session; exports it the first time, and again only when a late side
    /// turned a one-sided session into a joined one (so a side reported twice is not
    /// exported twice). It is counted when the actor stops, as it ended up.
    /// </summary>
    private void Settle(IContext context, SessionView view)
    {
        var previous = _settled;
        var first = previous is null;
        var lateJoin = _settled is { Join: JoinMethod.OneSided } && view.Join != JoinMethod.OneSided;
        _waitingForPeer = false;
        _settled = view;
        if (lateJoin)
            services.Counters.LateJoin();
        if (first)
        {
            // Counted once per connection, however its sides arrive.
            services.Tags?.Record(view);
        }
        // Latency takes each value once: the first time, and what later views add.
        services.Latency?.Record(view, TagSurvival.EdgeOf(view), previous, previous is null ? null : TagSurvival.EdgeOf(previous));
        if (first || lateJoin)
        {
            services.OnSettled?.Invoke(view);
            services.Live?.Session(view);
        }
        services.Store.Save(view);
        Arm(context, services.Options.Linger);
    }

    private async Task OnQueryAsync(IContext context)
    {
        // Any message restarts Proto's receive timeout: a query (the gateway, a user polling)
        // must not keep a session waiting for its peer, so the timeout is set back to what was left.
        if (_timeoutAtMs != 0)
            context.SetReceiveTimeout(TimeSpan.FromMilliseconds(Math.Max(1, _timeoutAtMs - Environment.TickCount64)));
        if (_flows.Count > 0)
        {
            context.Respond(new SessionQueryResponse { Found = true, Session = _settled ?? Build() });
            return;
        }
        // Not in memory (passivated, or not reported yet): Redis has it for its TTL. The
        // actor stays for the linger time rather than stopping at once, so flows that
        // arrive just behind the query find it alive.
        var stored = await services.Store.LoadAsync(_key).ConfigureAwait(false);
        context.Respond(stored is null ? new SessionQueryResponse { Found = false } : new SessionQueryResponse { Found = true, Session = stored });
        Arm(context, services.Options.Linger);
    }
}

/// <summary>A flow handed to its session actor inside one Aggregator (never sent over the network).</summary>
internal sealed class SessionFlow(FlowView flow) : IRedeliverable
{
    public FlowView Flow { get; } = flow;

    /// <summary>Times it was sent again after finding its actor stopped.</summary>
    public int Redeliveries { get; set; }
}

/// <summary>
/// Every Aggregator's named actor that takes the Nodes' batches of flows and hands
/// each to the session actor of its key, activated here.
/// </summary>
internal sealed class SessionIngressActor(Func<ClusterIdentity, PID> activate, AggregatorCounters counters, LiveEventPublisher live) : IActor
{
    public Task ReceiveAsync(IContext context)
    {
        if (context.Message is SessionRecords records)
        {
            counters.FlowsIn(records.Flows.Count);
            foreach (var flow in records.Flows)
            {
                context.Send(activate(IdentityOf(flow)), new SessionFlow(flow));
                live.Flow(flow);
            }
            context.Respond(new SessionRecordsAck { Accepted = records.Flows.Count });
        }
        return Task.CompletedTask;
    }

    public static ClusterIdentity IdentityOf(FlowView flow) => ClusterIdentity.Create(SessionKeys.For(flow), ClusterKinds.Session);
}
