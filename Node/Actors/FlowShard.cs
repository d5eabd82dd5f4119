using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.Node.Flows;
using FlowMesh.Node.Kernel;
using Proto;

namespace FlowMesh.Node.Actors;

/// <summary>
/// The flows of one slice of this host's sockets (by cookie), in a table: the state of
/// every connection from SYN to FIN/RST, applied in batches. A flow is still the virtual
/// actor of kind <c>flow</c> (identity <c>{hostId}/{cookie}</c>) to the rest of the
/// cluster, but it is activated only when something talks to it (<see cref="FlowQueryActor"/>
/// asks its shard); measured, one resident actor per connection cost ~12 µs of CPU per
/// kernel event and cut a real client's connection rate to 0.60.
///
/// Events are held until the ordering horizon has passed them (every CPU's ring is read
/// past their time), then applied in kernel order: one connection's events come through
/// one ring per CPU, and a close applied before the handshake another CPU recorded would
/// leave with no ISNs. So a flow hands itself over (to its session and to the closed-flow
/// record) only with every event up to its close, and keeps the session key of its first
/// hand-off for good: events that still come later (a reset just behind the close)
/// update the same session.
///
/// Lifecycle (<see cref="SweepShard"/>, once a second): a closed flow stays in the table
/// for the linger time (late events, queries), then leaves (its record is in Redis); an
/// open flow reports to its session now and then, and one with no events for the idle
/// time saves its state (etag compare-and-set) and leaves; its next event brings it back.
/// Only restoring and saving wait for Redis, without blocking the shard.
/// </summary>
internal sealed partial class FlowShard(FlowServices services, string hostId, HorizonWaiter waiter) : IActor
{
    private FlowEntry[] _entries = new FlowEntry[256];
    private int _used; // slots handed out so far (free ones are reused first)
    private readonly Stack<int> _free = new();
    private readonly Dictionary<ulong, int> _slotOf = [];

    // Events received and not yet passed by the horizon, and scratch space to sort them by time.
    private TcpEventRecord[] _held = new TcpEventRecord[1024];
    private TcpEventRecord[] _spare = new TcpEventRecord[1024];
    private long[] _times = new long[1024];
    private int[] _order = new int[1024];
    private int _heldCount;

    // Each application of events is a round; the flows it touched are settled at its end.
    private int _round;
    private long _roundMs; // Environment.TickCount64 when the round began
    private long _roundNowNs; // the kernel's monotonic clock when the round began (the apply delay's end)
    private int _appliedInRound;
    private long[] _roundDelays = new long[1024]; // this round's apply delays, handed over at its end
    private readonly List<int> _touched = [];
    private readonly FlowNames _names = new();

    public Task ReceiveAsync(IContext context) => context.Message switch
    {
        ShardRecords records => OnRecords(context, records),
        HorizonReached horizon => OnHorizon(context, horizon),
        ShardQuery query => OnQuery(context, query),
        ShardList list => OnList(context, list),
        SweepShard => OnSweep(context),
        Stopping => OnStoppingAsync(),
        _ => Task.CompletedTask,
    };

    private Task OnRecords(IContext context, ShardRecords message)
    {
        Hold(message.Records.AsSpan(0, message.Count));
        ShardRecordsPool.Return(message.Records);
        if (services.Dispatcher is { } horizon)
            horizon.Await(waiter);
        else
            ApplyHeld(context, long.MaxValue, long.MaxValue); // a sink that does not order across CPUs: apply as they come
        return Task.CompletedTask;
    }

    private Task OnHorizon(IContext context, HorizonReached horizon)
    {
        services.Dispatcher!.Handled();
        ApplyHeld(context, horizon.Ns, horizon.TrueNs);
        if (_heldCount > 0)
            services.Dispatcher.Await(waiter);
        return Task.CompletedTask;
    }

    private void Hold(ReadOnlySpan<TcpEventRecord> records)
    {
        if (_heldCount + records.Length > _held.Length)
        {
            var size = Math.Max(_heldCount + records.Length, _held.Length * 2);
            Array.Resize(ref _held, size);
            _spare = new TcpEventRecord[size];
            _times = new long[size];
            _order = new int[size];
        }
        records.CopyTo(_held.AsSpan(_heldCount));
        _heldCount += records.Length;
    }

    /// <summary>Applies, in kernel order, the held events stamped before <paramref name="horizonNs"/>; keeps the rest.</summary>
    private void ApplyHeld(IContext context, long horizonNs, long trueHorizonNs)
    {
        var count = _heldCount;
        if (count == 0)
            return;
        for (var i = 0; i < count; i++)
        {
            _times[i] = (long)_held[i].TimestampNs;
            _order[i] = i;
        }
        // Each CPU's records are in order already; sorting keys with an index keeps the 144-byte records still.
        Array.Sort(_times, _order, 0, count);
        KeepArrivalOrderOfTies(count);
        var ready = LowerBound(_times, count, horizonNs);
        if (ready == 0)
            return;
        // Those from the true horizon on are released by the stall bound, not because every CPU was read past them.
        var guaranteed = LowerBound(_times, ready, trueHorizonNs);
        if (guaranteed < ready)
            services.Counters.HorizonWaitExpired(ready - guaranteed);

        BeginRound();
        for (var k = 0; k < ready; k++)
            ApplyOne(context, _held[_order[k]]);
        for (var k = ready; k < count; k++)
            _spare[k - ready] = _held[_order[k]];
        (_held, _spare) = (_spare, _held);
        _heldCount = count - ready;
        EndRound();
    }

    /// <summary>
    /// Array.Sort is not stable: events with the same timestamp (rare, but one ring can
    /// stamp two of a socket's events alike) go back to the order they arrived in, which is
    /// their ring's order.
    /// </summary>
    private void KeepArrivalOrderOfTies(int count)
    {
        for (var i = 1; i < count; i++)
        {
            if (_times[i] != _times[i - 1])
                continue;
            var index = _order[i];
            var j = i;
            while (j > 0 && _times[j - 1] == _times[i] && _order[j - 1] > index)
            {
                _order[j] = _order[j - 1];
                j--;
            }
            _order[j] = index;
        }
    }

    private static int LowerBound(long[] sorted, int count, long value)
    {
        int lo = 0, hi = count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] < value)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }

    private void ApplyOne(IContext context, in TcpEventRecord r)
    {
        var cookie = r.SocketCookie;
        if (_restoring.Count > 0 && _restoring.TryGetValue(cookie, out var parked))
        {
            parked.Add(r); // its saved state is on its way; applied after it, in this order
            return;
        }
        if (!_slotOf.TryGetValue(cookie, out var slot))
        {
            // A refresh of a flow not in memory (passivated, shed, or the Node's own): not worth a
            // restore. Nothing is lost: the flow's next event, and its close, carry the same figures.
            if (r.Kind == TcpEventKind.Report || IsShed(cookie))
                return;
            if (TableFull)
            {
                Shed(cookie);
                return;
            }
            // A connection that starts here cannot have saved state (a cookie is never
            // reused); anything else may be a passivated flow coming back.
            if (!TcpTransitions.IsOpening(r.OldState, r.NewState))
            {
                StartRestore(context, r);
                return;
            }
            slot = Add(new FlowState(cookie));
            services.Counters.FlowOpened();
        }
        Apply(slot, r);
    }

    private void Apply(int slot, in TcpEventRecord r)
    {
        ref var entry = ref _entries[slot];
        if (entry.Round != _round)
        {
            entry.Round = _round;
            entry.ClosedAtRoundStart = entry.State.Closed;
            _touched.Add(slot);
        }
        var cgroupBefore = entry.State.CgroupId;
        entry.State.Apply(r);
        // Named once, when the flow first learns its cgroup, while the task still runs (its
        // /proc/PID/cgroup names the group at once); views look the name up later.
        if (cgroupBefore == 0 && entry.State.CgroupId != 0 && r.Has(TcpEventFlags.Task))
            services.Workloads?.Cgroups.Resolve(r.CgroupId, (int)r.Tgid);
        entry.LastActivityMs = _roundMs;
        entry.Unsaved = true;
        // Counted and timed here, where an event reaches its flow: not the shed, the late, or
        // those parked for a restore (they are counted when the restore applies them).
        if (_appliedInRound == _roundDelays.Length)
            Array.Resize(ref _roundDelays, _roundDelays.Length * 2);
        _roundDelays[_appliedInRound++] = _roundNowNs - (long)r.TimestampNs;
    }

    private void BeginRound()
    {
        _round++;
        _roundMs = Environment.TickCount64;
        _roundNowNs = MonotonicClock.NowNs();
        _appliedInRound = 0;
        _touched.Clear();
    }

    /// <summary>
    /// Settles what the round did to each flow, after all of it: the kernel emits the reset
    /// of an abortive close just after the move to TCP_CLOSE, and the record must carry it.
    /// </summary>
    private void EndRound()
    {
        foreach (var slot in _touched)
        {
            ref var entry = ref _entries[slot];
            var state = entry.State;
            if (state.Closed && !entry.ClosedAtRoundStart)
            {
                var waitMs = services.Runtime?.HandOverWaitMs(state.Pid, state.ClosedNs) ?? 0;
                if (waitMs > 0)
                    entry.HandOverByMs = _roundMs + waitMs; // OnSweep hands it over
                else
                    HandOverClosed(ref entry);
            }
            else if (entry.ClosedAtRoundStart && entry.HandOverByMs == 0)
            {
                HandOverLate(ref entry);
            }
            var anomalies = state.Reordered + state.Duplicates + state.Unexpected;
            if (anomalies != entry.AnomaliesReported)
            {
                services.Counters.Anomaly(anomalies - entry.AnomaliesReported);
                entry.AnomaliesReported = anomalies;
            }
        }
        _touched.Clear();
        services.Counters.FlowEventsApplied(_appliedInRound);
        services.Counters.ApplyDelay.Observe(_roundDelays.AsSpan(0, _appliedInRound));
    }

    private void HandOverClosed(ref FlowEntry entry)
    {
        entry.HandOverByMs = 0;
        services.Counters.FlowClosed();
        entry.State.EventsLost |= services.KernelDrops() > entry.DropsAtStart;
        var view = ClosedView(entry.State);
        services.Counters.TagOutcome(view.TagSent, view.TagEchoed, view.TagReceived, view.TagForged);
        if (entry.Etag is not null)
            services.Store.DeleteOpen(hostId, FlowIds.Published(entry.State.Cookie));
        entry.Etag = null;
        services.ToSession?.Invoke(view);
    }

    /// <summary>Events for a flow already closed (a reset a little behind its close): its session (and record) are told again.</summary>
    private void HandOverLate(ref FlowEntry entry) => services.ToSession?.Invoke(ClosedView(entry.State));

    /// <summary>
    /// A closed flow's view, steps and all: the Aggregator that owns its session stores it
    /// as the flow's record (measured with `bench node`: writing that record from the Node,
    /// a second view and a Redis command per flow, was a fifth of the Node's CPU).
    /// </summary>
    private FlowView ClosedView(FlowState state)
    {
        var view = SessionView(state);
        state.AddSteps(view);
        return view;
    }

    private int Add(FlowState state)
    {
        int slot;
        if (!_free.TryPop(out slot))
        {
            slot = _used++;
            if (slot == _entries.Length)
                Array.Resize(ref _entries, _entries.Length * 2);
        }
        var now = Environment.TickCount64;
        _entries[slot] = new FlowEntry { State = state, LastActivityMs = now, LastReportMs = now, DropsAtStart = services.KernelDrops(), Round = _round - 1 };
        _slotOf[state.Cookie] = slot;
        services.Counters.FlowStarted();
        return slot;
    }

    private void Remove(int slot)
    {
        _slotOf.Remove(_entries[slot].State.Cookie);
        _entries[slot] = default;
        _free.Push(slot);
        services.Counters.FlowStopped();
    }

    private FlowView View(FlowState state) => Named(state.ToView(hostId, services.Clock.RealtimeMinusMonotonicNs, names: _names));

    /// <summary>The view with its workload, named from its process's cgroup (a cached lookup once the cgroup is known) and its pod.</summary>
    private FlowView Named(FlowView view)
    {
        if (services.Workloads is { } workloads && view.CgroupId != 0)
            view.Workload = workloads.Describe(view.CgroupId, (int)view.Pid);
        return view;
    }

    /// <summary>The view for the session, under the key of the flow's first hand-off whatever it learns later.</summary>
    private FlowView SessionView(FlowState state)
    {
        var view = Named(state.ToView(hostId, services.Clock.RealtimeMinusMonotonicNs, withSteps: false, _names));
        if (state.SessionKey is null)
            view.SessionKey = state.SessionKey = SessionKeys.For(view);
        services.Runtime?.Describe(view, state.Pid, state.SynNs != 0 ? state.SynNs : state.FirstSeenNs, state.Closed ? state.ClosedNs : state.LastEventNs);
        return view;
    }
}
