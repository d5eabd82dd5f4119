using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Proto;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// The sessions of one slice of the key space (by hash), in one table: collects the flows
/// the Nodes report under each key and settles a session when both sides have closed, or
/// as one-sided when the other side has not shown up within the join window. A side that
/// arrives later settles it again, joined.
///
/// Each session used to be a resident virtual actor (spawned, registered, with a timer of
/// its own, stopped half a second after it settled); measured with <c>bench node</c>, that
/// machinery cost most of the Aggregator's ~90 µs of CPU per connection. A table entry
/// with one deadline, swept by the shard every <see cref="SweepInterval"/>, keeps the same
/// behaviour. The <c>session</c> kind is still a virtual actor, activated only when asked
/// (<see cref="SessionQueryActor"/>), which asks the shard.
///
/// A side first seen mid-life has no ISNs and no tag, so it arrives under its tuple,
/// apart from a peer that has them. Before settling such a side one-sided (after two join
/// windows, so the peer has settled by then), the session looks for a one-sided peer
/// under the same tuple (<see cref="TupleAliases"/>) and, if there is one, hands its side
/// over to it, flagged as joined by tuple, instead of settling alone.
/// </summary>
internal sealed class SessionShard(SessionServices services) : IActor
{
    public static readonly TimeSpan SweepInterval = TimeSpan.FromMilliseconds(50);

    private readonly Dictionary<string, SessionEntry> _entries = new(StringComparer.Ordinal);

    // Deadlines by session key, earliest first. A key may be queued more than once; only the
    // element at its entry's TrackedMs counts (the others are skipped when they come up). Keys,
    // not entries: a stale element must not keep a session that has left in memory.
    private readonly PriorityQueue<string, long> _deadlines = new();

    public Task ReceiveAsync(IContext context)
    {
        switch (context.Message)
        {
            case ShardFlows batch:
                foreach (var f in batch.Flows)
                    OnFlow(context, f);
                break;
            case ShardSessionQuery query:
                if (_entries.TryGetValue(query.Key, out var entry) && entry.Flows.Count > 0)
                {
                    // A settled session stays while someone keeps asking for it (a tuple session is
                    // stored under key@start, not under its key); one waiting for its peer keeps its
                    // deadline, or a session polled by the gateway or a user would never settle.
                    if (!entry.WaitingForPeer)
                        Restart(entry);
                    context.Respond(new SessionQueryResponse { Found = true, Session = entry.Settled ?? entry.Build(services.Owners) });
                }
                else
                {
                    context.Respond(new SessionQueryResponse { Found = false });
                }
                break;
            case SweepSessions:
                Sweep(context);
                break;
            case HostLost lost:
                OnHostLost(lost.HostId);
                break;
            case Stopping:
                foreach (var e in _entries.Values)
                    Count(e);
                _entries.Clear();
                break;
        }
        return Task.CompletedTask;
    }

    private void OnFlow(IContext context, ShardFlow arrived)
    {
        var (key, flow, resent) = arrived;
        if (!_entries.TryGetValue(key, out var entry))
        {
            if (services.Counters.ActiveSessions >= services.Options.MaxInMemory)
            {
                // Its flow's record is stored (the ingress did that); the session is not.
                services.Counters.SessionShed();
                services.Refused?.Invoke(flow);
                return;
            }
            // Every branch below sets its timeout: a first timeout set here (Idle) would sit in the
            // deadline queue for minutes behind the join window's.
            _entries[key] = entry = new SessionEntry(key) { TrackedMs = long.MaxValue };
            services.Counters.SessionStarted();
        }
        if (!entry.Put(flow, services.Options.MaxFlowsPerSession))
        {
            services.Counters.FlowOverSessionCap();
            services.Refused?.Invoke(flow);
            return;
        }
        entry.Resent |= resent && entry.Settled is null;
        var view = entry.Build(services.Owners);
        var bothSides = view.Client is not null && view.Server is not null;
        if (view.Closed && (bothSides || entry.Settled is not null))
        {
            // Both ends closed; or a settled side told again (a reset just behind its close): keep the store right.
            if (!ReadStoredFirst(context, entry, () => Settle(entry, entry.Build(services.Owners))))
                Settle(entry, view);
        }
        else if (view.Closed)
        {
            // One side has closed and the other has not shown up: give it the join window.
            if (entry.Settled is null && !entry.WaitingForPeer)
            {
                entry.WaitingForPeer = true;
                SetTimeout(entry, MayHavePeerElsewhere(entry) ? services.Options.JoinWindow * 2 : services.Options.JoinWindow);
            }
            else
            {
                Restart(entry);
            }
        }
        else
        {
            // Still open: keep the live view where queries find it. The sides that closed are in
            // it, so once stored their Nodes may forget them (confirm skips the open ones).
            services.Store.Save(view, confirm: true);
            SetTimeout(entry, services.Options.Idle);
        }
    }

    private void OnHostLost(string hostId)
    {
        foreach (var entry in _entries.Values.ToList())
        {
            if (entry.Removed || !entry.LoseHost(hostId))
                continue;
            services.Counters.SessionHostLost();
            var view = entry.Build(services.Owners);
            if (view.Closed)
            {
                Settle(entry, view);
            }
            else
            {
                // Its other side is still open and watched: kept live, marked, until that side closes.
                services.Store.Save(view);
                SetTimeout(entry, services.Options.Idle);
            }
        }
    }

    private void SetTimeout(SessionEntry entry, TimeSpan timeout)
    {
        entry.TimeoutMs = (long)timeout.TotalMilliseconds;
        Restart(entry);
    }

    /// <summary>Starts the entry's timeout again from now (as every message did for a receive timeout).</summary>
    private void Restart(SessionEntry entry)
    {
        entry.DeadlineMs = Environment.TickCount64 + entry.TimeoutMs;
        if (entry.DeadlineMs < entry.TrackedMs)
        {
            entry.TrackedMs = entry.DeadlineMs;
            _deadlines.Enqueue(entry.Key, entry.DeadlineMs);
        }
    }

    private void Sweep(IContext context)
    {
        var now = Environment.TickCount64;
        while (_deadlines.TryPeek(out var key, out var at) && at <= now)
        {
            _deadlines.Dequeue();
            if (!_entries.TryGetValue(key, out var entry) || at != entry.TrackedMs)
                continue;
            entry.TrackedMs = long.MaxValue;
            if (entry.DeadlineMs > now)
            {
                // Moved later since it was queued: queue it again at its deadline.
                entry.TrackedMs = entry.DeadlineMs;
                _deadlines.Enqueue(key, entry.DeadlineMs);
                continue;
            }
            if (!entry.LookingForPeer && !entry.ReadingStored)
                OnTimeout(context, entry);
        }
    }

    private void OnTimeout(IContext context, SessionEntry entry)
    {
        if (entry.WaitingForPeer) // set only while unsettled, with a side in hand
        {
            if (ReadStoredFirst(context, entry, () => OnTimeout(context, entry)))
                return;
            if (MayHavePeerElsewhere(entry))
                JoinPeerByTuple(context, entry);
            else
                SettleAlone(entry);
            return;
        }
        Remove(entry);
    }

    /// <summary>
    /// A session with a resent side and nothing settled here may be stored already: by an
    /// Aggregator that died before its confirmation reached the Node. Reads it first (and
    /// returns true; <paramref name="then"/> goes on once it is read), so the session is
    /// neither overwritten with less, nor counted, exported or added to latency twice.
    /// </summary>
    private bool ReadStoredFirst(IContext context, SessionEntry entry, Action then)
    {
        if (!entry.Resent)
            return false;
        if (entry.ReadingStored)
            return true; // the read under way goes on with whatever has arrived by then
        entry.ReadingStored = true;
        context.ReenterAfter(services.Store.LoadAsync(entry.Build(services.Owners).Id), loaded =>
        {
            entry.ReadingStored = false;
            entry.Resent = false;
            if (entry.Removed)
                return;
            // Only a settled (closed) session counts as an earlier settle: a stored live view of
            // an open one is what this shard is about to rebuild anyway.
            var stored = loaded.IsCompletedSuccessfully && loaded.Result is { Closed: true } s ? s : null;
            if (stored is not null && SessionJoin.Covers(stored, entry.Build(services.Owners)))
            {
                // Stored with everything this side says: the confirmation (or the index entry) was lost.
                services.Counters.ResentAlreadyStored();
                entry.WaitingForPeer = false;
                entry.Settled = stored;
                // Written again, not only confirmed: an Aggregator killed mid-pipeline can leave the
                // record without its index entry (measured: 5 of 4,008 sessions in one drill run).
                services.Store.Save(stored, confirm: true);
                SetTimeout(entry, services.Options.Linger);
                return;
            }
            entry.Settled = stored; // the earlier settle, as this shard's own would be
            then();
        });
        return true;
    }

    private void Remove(SessionEntry entry)
    {
        entry.Removed = true;
        _entries.Remove(entry.Key);
        Count(entry);
    }

    private void Count(SessionEntry entry)
    {
        services.Counters.SessionStopped();
        // Counted once, as it ended up: a one-sided session a late side joined counts as
        // joined only, and the counters still only ever grow.
        if (entry.Settled is { } settled)
            services.Counters.Settled(settled);
    }

    /// <summary>Only sides known by their tuple alone: their peer may wait under a tag or ISN key.</summary>
    private bool MayHavePeerElsewhere(SessionEntry entry)
    {
        if (services.Aliases is null || services.Forward is null || SessionKeys.MethodOf(entry.Key) != JoinMethod.Tuple)
            return false;
        foreach (var flow in entry.Flows)
        {
            if (!SessionKeys.KnownOnlyByTuple(flow))
                return false;
        }
        return true;
    }

    /// <summary>Settles the session with the side(s) it has; a one-sided tag or ISN session says where it waits under its tuple.</summary>
    private void SettleAlone(SessionEntry entry)
    {
        var view = entry.Build(services.Owners);
        Settle(entry, view);
        if (view.Join == JoinMethod.OneSided && SessionKeys.MethodOf(entry.Key) != JoinMethod.Tuple && services.Aliases is { } aliases)
        {
            foreach (var flow in entry.Flows)
                aliases.Publish(SessionKeys.TupleKey(flow), entry.Key);
            // Stay for a mid-life peer, which looks for this session after two join windows.
            SetTimeout(entry, services.Options.JoinWindow * 3);
        }
    }

    /// <summary>Extra looks for a tuple side's peer, a join window apart (the peer stays three windows after it publishes).</summary>
    private const int MaxTupleLookups = 2;

    private void JoinPeerByTuple(IContext context, SessionEntry entry)
    {
        entry.LookingForPeer = true;
        context.ReenterAfter(services.Aliases!.FindAsync(entry.Key), found =>
        {
            entry.LookingForPeer = false;
            if (entry.Removed || !entry.WaitingForPeer)
                return; // settled meanwhile: its other side arrived after all
            var peer = found.IsCompletedSuccessfully ? found.Result : null;
            if (peer is null || peer == entry.Key)
            {
                // The peer publishes its tuple only once it settles alone, a join window after
                // its own last side came; a host whose hand-off lags (a loaded Node) can make
                // that later than this look. Look again, a window apart, before settling alone:
                // once settled here this side would be stored one-sided and could not move.
                if (++entry.TupleLookups <= MaxTupleLookups)
                {
                    SetTimeout(entry, services.Options.JoinWindow);
                    return;
                }
                SettleAlone(entry);
                return;
            }
            // The peer's session takes this side; this one was never stored, so nothing is left behind.
            entry.WaitingForPeer = false;
            foreach (var flow in entry.Flows)
            {
                var moved = flow.Clone();
                moved.SessionKey = peer;
                moved.JoinedByTuple = true;
                services.Forward!(moved);
            }
            services.Counters.SideMovedToPeer(entry.Flows.Count);
            Remove(entry);
        });
    }

    /// <summary>
    /// Stores the session and tells the subscribers (each takes what is new to it: see
    /// <see cref="SettledSession"/>). It is counted when it leaves the table, as it ended up.
    /// </summary>
    private void Settle(SessionEntry entry, SessionView view)
    {
        var previous = entry.Settled;
        entry.WaitingForPeer = false;
        entry.Settled = view;
        var edgeBefore = previous is null ? null : services.Edges.Known(Edges.Of(previous));
        var settled = new SettledSession(view, "", previous, edgeBefore);
        if (settled.LateJoin)
            services.Counters.LateJoin();
        // A late side can change the edge (a server-only session has no client workload): admitted then too.
        var edge = settled.IsNews ? services.Edges.Admit(Edges.Of(view)) : services.Edges.Known(Edges.Of(view));
        settled = settled with { Edge = edge };
        foreach (var subscriber in services.Subscribers)
            subscriber.Settled(settled);
        // Once stored, the Nodes are told they may forget its closed sides.
        services.Store.Save(view, confirm: view.Closed);
        SetTimeout(entry, services.Options.Linger);
    }
}
