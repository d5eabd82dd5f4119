using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.Node.Flows;
using FlowMesh.Node.Kernel;
using Proto;

namespace FlowMesh.Node.Actors;

/// <summary>
/// One connection on one host (ClusterKind <c>flow</c>, identity <c>{hostId}/{cookie}</c>):
/// follows it from SYN to FIN/RST and answers queries from any member.
///
/// Events are held until the ordering horizon has passed them (every CPU's ring is
/// drained past their time), then applied in kernel order: a connection's events come
/// through one ring per CPU and would otherwise arrive out of order, and a close applied
/// before the handshake another CPU recorded would leave with no ISNs. So a flow hands
/// itself over (to its session and to the closed-flow record) only with every event up
/// to its close, and keeps the session key of its first hand-off for good: events that
/// still come later (a reset just behind the close) update the same session.
///
/// Lifecycle: a closed flow hands its record to the writer at once, lingers for
/// queries, then passivates; an open flow with no events for a while saves its state
/// (etag compare-and-set) and passivates, and the next event or query brings it
/// back. The <see cref="FlowSweeper"/> decides when, from <see cref="FlowHandle"/>.
/// Events are applied synchronously; only restoring and saving await Redis.
/// </summary>
internal sealed class FlowActor(FlowServices services, FlowRegistry registry, FlowHandle handle) : IActor
{
    private FlowState? _state;
    private bool _restoreTried;
    private string? _etag;
    private bool _unsaved;
    private uint _anomaliesReported;
    private long _dropsAtStart = -1;

    // Events received and not yet passed by the horizon, in arrival order (sorted when applied).
    private TcpEventRecord[]? _held;
    private int _heldCount;

    public Task ReceiveAsync(IContext context) => context.Message switch
    {
        FlowRecords records => OnRecords(records),
        HorizonReached horizon => OnHorizon(horizon),
        FlowQuery => OnQueryAsync(context),
        Passivate => OnPassivateAsync(context),
        ReportToSession => OnReport(),
        Started => OnStarted(),
        Stopping => OnStoppingAsync(),
        Stopped => OnStopped(),
        _ => Task.CompletedTask,
    };

    private Task OnStarted()
    {
        services.Counters.FlowStarted();
        return Task.CompletedTask;
    }

    private Task OnStopped()
    {
        registry.Remove(handle);
        services.Counters.FlowStopped();
        return Task.CompletedTask;
    }

    private Task OnRecords(FlowRecords message)
    {
        handle.LastActivityMs = Environment.TickCount64;
        Hold(message.Records);
        services.Horizon?.Await(handle);
        // Without a horizon (a sink that does not order across CPUs) events apply as they come.
        return services.Horizon is null ? ApplyHeld(long.MaxValue, long.MaxValue) : Task.CompletedTask;
    }

    private Task OnHorizon(HorizonReached horizon)
    {
        services.Horizon!.Handled();
        var applying = ApplyHeld(horizon.Ns, horizon.TrueNs);
        if (_heldCount > 0)
            services.Horizon.Await(handle);
        return applying;
    }

    private void Hold(TcpEventRecord[] records)
    {
        if (_heldCount == 0 && _held is null)
        {
            _held = records; // the message's own array: no copy in the common case
            _heldCount = records.Length;
            return;
        }
        if (_held is null || _heldCount + records.Length > _held.Length)
            Array.Resize(ref _held, Math.Max(_heldCount + records.Length, (_held?.Length ?? 0) * 2));
        records.CopyTo(_held.AsSpan(_heldCount));
        _heldCount += records.Length;
    }

    /// <summary>Applies, in kernel order, the held events stamped before <paramref name="horizonNs"/>.</summary>
    private Task ApplyHeld(long horizonNs, long trueHorizonNs)
    {
        if (_heldCount == 0)
            return Task.CompletedTask;
        var held = _held.AsSpan(0, _heldCount);
        SortByTime(held);
        var ready = 0;
        while (ready < held.Length && (long)held[ready].TimestampNs < horizonNs)
            ready++;
        if (ready == 0)
            return Task.CompletedTask;
        if ((long)held[ready - 1].TimestampNs >= trueHorizonNs)
            services.Counters.HorizonWaitExpired(); // released by the stall bound, not because every CPU was read past it
        TcpEventRecord[] batch;
        if (ready == _held!.Length)
        {
            batch = _held; // all of it, and the array is exactly that long: no copy
        }
        else
        {
            batch = held[..ready].ToArray();
            held[ready..].CopyTo(held);
        }
        _heldCount -= ready;
        if (_heldCount == 0)
            _held = null;
        if (_state is null)
        {
            // A connection that starts here cannot have saved state (a cookie is never
            // reused); anything else may be a passivated flow coming back.
            var first = batch[0];
            if (!_restoreTried && !TcpTransitions.IsOpening(first.OldState, first.NewState))
                return RestoreThenApplyAsync(batch);
            StartFresh();
        }
        Apply(batch);
        return Task.CompletedTask;
    }

    private FlowView PreviewOfHeld()
    {
        var preview = new FlowState(handle.Cookie);
        var held = _held.AsSpan(0, _heldCount);
        SortByTime(held);
        foreach (ref readonly var r in held)
            preview.Apply(r);
        return preview.ToView(handle.HostId, services.Clock.RealtimeMinusMonotonicNs);
    }

    /// <summary>Insertion sort: a few events, nearly always in order already.</summary>
    private static void SortByTime(Span<TcpEventRecord> records)
    {
        for (var i = 1; i < records.Length; i++)
        {
            if (records[i].TimestampNs >= records[i - 1].TimestampNs)
                continue;
            var r = records[i];
            var j = i;
            while (j > 0 && records[j - 1].TimestampNs > r.TimestampNs)
            {
                records[j] = records[j - 1];
                j--;
            }
            records[j] = r;
        }
    }

    private async Task RestoreThenApplyAsync(TcpEventRecord[] records)
    {
        await TryRestoreAsync().ConfigureAwait(false);
        if (_state is null)
            StartFresh();
        Apply(records);
    }

    private void StartFresh()
    {
        _state = new FlowState(handle.Cookie);
        services.Counters.FlowOpened();
    }

    private Task OnReport()
    {
        if (_state is { Closed: false })
            services.ToSession?.Invoke(SessionView()); // the session takes open and closed views alike
        return Task.CompletedTask;
    }

    private void Apply(TcpEventRecord[] records)
    {
        var state = _state!;
        if (_dropsAtStart < 0)
            _dropsAtStart = services.KernelDrops();
        var probe = services.OnApplied;
        var wasClosed = state.Closed;
        var closedNow = false;
        foreach (ref readonly var r in records.AsSpan())
        {
            closedNow |= state.Apply(r) == FlowState.Outcome.ClosedNow;
            probe?.Invoke(r.TimestampNs);
        }
        // Reported once per batch, after all of it: the kernel emits the reset of an
        // abortive close just after the move to TCP_CLOSE, and the record must carry it.
        if (closedNow)
            OnClosed();
        else if (wasClosed)
            OnLateEvents();
        services.Counters.FlowEventsApplied(records.Length);
        services.Counters.ApplyDelay.Observe(records, MonotonicClock.NowNs());
        _unsaved = true;
        var anomalies = state.Reordered + state.Duplicates + state.Unexpected;
        if (anomalies != _anomaliesReported)
        {
            services.Counters.Anomaly(anomalies - _anomaliesReported);
            _anomaliesReported = anomalies;
        }
    }

    private void OnClosed()
    {
        services.Counters.FlowClosed();
        _state!.EventsLost |= services.KernelDrops() > _dropsAtStart;
        var (full, forSession) = ClosedViews();
        services.Counters.TagOutcome(full.TagSent, full.TagEchoed, full.TagReceived);
        // Recorded for history in the writer's next batch (a write Redis refuses is counted there).
        services.ClosedFlows.Enqueue(full, hadSavedState: _etag is not null);
        _etag = null;
        services.ToSession?.Invoke(forSession);
        handle.Closed = true;
    }

    /// <summary>Events for a flow already closed (a reset a little behind its close): the record and the session are told again.</summary>
    private void OnLateEvents()
    {
        var (full, forSession) = ClosedViews();
        services.ClosedFlows.Enqueue(full, hadSavedState: false);
        services.ToSession?.Invoke(forSession);
    }

    /// <summary>The record for history (with steps) and the one for the session (without: it never reads them, and the Aggregator would hold them).</summary>
    private (FlowView Full, FlowView ForSession) ClosedViews()
    {
        var forSession = SessionView();
        var full = forSession.Clone(); // strings are shared, not copied
        _state!.AddSteps(full);
        return (full, forSession);
    }

    private async Task OnQueryAsync(IContext context)
    {
        handle.LastActivityMs = Environment.TickCount64;
        if (_state is null && !_restoreTried)
            await TryRestoreAsync().ConfigureAwait(false);
        if (_state is not null)
        {
            context.Respond(new FlowQueryResponse { Found = true, Flow = View() });
            return;
        }
        if (_heldCount > 0)
        {
            // Its first events are still waiting for the horizon: answer with what they say, apply nothing yet.
            context.Respond(new FlowQueryResponse { Found = true, Flow = PreviewOfHeld() });
            return;
        }
        // Not open here: it may have closed and passivated (its record is in Redis), or never existed.
        FlowView? closed = null;
        try
        {
            closed = await services.Store.LoadClosedAsync(handle.HostId, handle.Cookie).ConfigureAwait(false);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            // counted by the connection; answered as not found
        }
        context.Respond(closed is null ? new FlowQueryResponse { Found = false } : new FlowQueryResponse { Found = true, Flow = closed });
        context.Stop(context.Self); // nothing to keep alive for
    }

    private async Task TryRestoreAsync()
    {
        _restoreTried = true;
        try
        {
            if (await services.Store.LoadAsync(handle.HostId, handle.Cookie).ConfigureAwait(false) is { } saved)
            {
                _state = FlowState.FromView(saved.View);
                _etag = saved.Etag;
                _anomaliesReported = saved.View.Reordered + saved.View.Duplicates + saved.View.Unexpected;
                services.Counters.FlowRestored();
            }
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            // Redis is away (counted by the connection): carry on from what the events say.
        }
    }

    private async Task OnPassivateAsync(IContext context)
    {
        // Something arrived after the sweeper looked: not idle any more (it may ask again later).
        if (!handle.QuietLongEnough(Environment.TickCount64, services.Options) || _heldCount > 0)
        {
            handle.PassivationRequested = false;
            return;
        }
        if (_state is { Closed: false } && _unsaved && !await SaveAsync().ConfigureAwait(false))
        {
            // Redis could not take it: stay up, try after another idle period.
            handle.LastActivityMs = Environment.TickCount64;
            handle.PassivationRequested = false;
            return;
        }
        // PassivationRequested stays set: the actor is stopping and must not be asked again.
        services.Counters.FlowPassivated();
        context.Stop(context.Self);
    }

    private async Task OnStoppingAsync()
    {
        // Stopped for another reason than idleness (the Node is shutting down): keep what an open flow knows.
        if (_state is { Closed: false } && _unsaved)
            await SaveAsync().ConfigureAwait(false);
    }

    private async Task<bool> SaveAsync()
    {
        var (result, etag) = await services.Store.SaveOpenAsync(View(), _etag).ConfigureAwait(false);
        switch (result)
        {
            case FlowStore.SaveResult.Saved:
                _etag = etag;
                _unsaved = false;
                return true;
            case FlowStore.SaveResult.Conflict:
                // Another activation of this flow saved a newer state: ours is stale, let it go.
                services.Counters.StateConflict();
                _unsaved = false;
                return true;
            default:
                return false;
        }
    }

    private FlowView View() => _state!.ToView(handle.HostId, services.Clock.RealtimeMinusMonotonicNs);

    /// <summary>The view for the session, under the key of the flow's first hand-off whatever it learns later.</summary>
    private FlowView SessionView()
    {
        var view = _state!.ToView(handle.HostId, services.Clock.RealtimeMinusMonotonicNs, withSteps: false);
        if (_state.SessionKey is null)
            view.SessionKey = _state.SessionKey = SessionKeys.For(view);
        return view;
    }
}
