using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Messages;
using FlowMesh.Node.Flows;
using Proto;

namespace FlowMesh.Node.Actors;

/// <summary>The shard's flows over time: restored from Redis, reported, passivated, forgotten.</summary>
internal sealed partial class FlowShard
{
    // Flows whose saved state is being loaded, with the events that came meanwhile (in kernel order).
    private readonly Dictionary<ulong, List<TcpEventRecord>> _restoring = [];

    /// <summary>The first event of a cookie the table does not hold is not an opening: it may be a passivated flow; load it, hold its events.</summary>
    private void StartRestore(IContext context, in TcpEventRecord first)
    {
        var cookie = first.SocketCookie;
        _restoring[cookie] = [first];
        services.Counters.RestoreStarted();
        context.ReenterAfter(services.Store.LoadAsync(hostId, FlowIds.Published(cookie)), loaded =>
        {
            FinishRestore(cookie, loaded);
            return Task.CompletedTask;
        });
    }

    private void FinishRestore(ulong cookie, Task<(FlowView View, string Etag)?> loaded)
    {
        if (!_restoring.Remove(cookie, out var parked))
            return;
        services.Counters.RestoreEnded();
        int slot;
        // A failed load (Redis away, counted by the connection) carries on from what the events say.
        if (loaded.IsCompletedSuccessfully && loaded.Result is { } saved)
        {
            slot = Add(FlowState.FromView(saved.View));
            ref var entry = ref _entries[slot];
            entry.Etag = saved.Etag;
            entry.AnomaliesReported = saved.View.Reordered + saved.View.Duplicates + saved.View.Unexpected;
            services.Counters.FlowRestored();
        }
        else if (IsTailOfAGoneFlow(parked))
        {
            // Events just behind a flow that already closed and left the table (a reset after the
            // linger): its record and session are settled; a new flow made of them would be a phantom.
            services.Counters.LateEvents(parked.Count);
            return;
        }
        else
        {
            slot = Add(new FlowState(cookie));
            services.Counters.FlowOpened();
        }
        BeginRound();
        foreach (var r in parked)
            Apply(slot, r);
        EndRound();
    }

    /// <summary>No opening and no mid-life report (a socket open before the Node started), only the end of one.</summary>
    private static bool IsTailOfAGoneFlow(List<TcpEventRecord> events)
    {
        var ends = false;
        foreach (var r in events)
        {
            if (r.Kind == TcpEventKind.Existing || TcpTransitions.IsOpening(r.OldState, r.NewState))
                return false;
            ends |= r.Kind is TcpEventKind.ResetSent or TcpEventKind.ResetReceived || (r.Kind == TcpEventKind.State && r.NewState == TcpState.Close);
        }
        return ends;
    }

    private Task OnSweep(IContext context)
    {
        var now = Environment.TickCount64;
        var options = services.Options;
        var linger = (long)options.Linger.TotalMilliseconds;
        var idle = (long)options.Idle.TotalMilliseconds;
        var report = (long)options.SessionReport.TotalMilliseconds;
        for (var slot = 0; slot < _used; slot++)
        {
            ref var entry = ref _entries[slot];
            if (entry.State is null)
                continue;
            if (entry.State.Closed)
            {
                if (entry.HandOverByMs != 0)
                {
                    if (now >= entry.HandOverByMs || services.Runtime?.HandOverWaitMs(entry.State.Pid, entry.State.ClosedNs) is null or 0)
                        HandOverClosed(ref entry);
                    continue;
                }
                // Its record is in Redis: queries are answered from there from now on. Not while a
                // passivation save is under way: its completion must find the flow to delete that state.
                if (now - entry.LastActivityMs >= linger && !entry.Saving)
                    Remove(slot);
                continue;
            }
            if (now - entry.LastReportMs >= report)
            {
                entry.LastReportMs = now;
                services.ToSession?.Invoke(SessionView(entry.State)); // the session takes open and closed views alike
            }
            if (!entry.Saving && now - entry.LastActivityMs >= idle)
                Passivate(context, slot);
        }
        return Task.CompletedTask;
    }

    /// <summary>An open flow idle long enough: save its state (unless Redis has it already) and let it leave memory.</summary>
    private void Passivate(IContext context, int slot)
    {
        ref var entry = ref _entries[slot];
        if (!entry.Unsaved && entry.Etag is not null)
        {
            Remove(slot);
            services.Counters.FlowPassivated();
            return;
        }
        entry.Saving = true;
        var cookie = entry.State.Cookie;
        var stamp = entry.LastActivityMs;
        context.ReenterAfter(services.Store.SaveOpenAsync(View(entry.State), entry.Etag), saved =>
        {
            FinishPassivation(cookie, stamp, saved.IsCompletedSuccessfully ? saved.Result : (FlowStore.SaveResult.Failed, null));
            return Task.CompletedTask;
        });
    }

    private void FinishPassivation(ulong cookie, long stamp, (FlowStore.SaveResult Result, string? Etag) saved)
    {
        if (!_slotOf.TryGetValue(cookie, out var slot))
            return;
        ref var entry = ref _entries[slot];
        entry.Saving = false;
        if (entry.State.Closed)
        {
            // It closed while the save was on its way: its closed record was written without
            // knowing of this state, so nothing else would remove it.
            if (saved.Result == FlowStore.SaveResult.Saved)
                services.Store.DeleteOpen(hostId, FlowIds.Published(cookie));
            return;
        }
        var quietSince = entry.LastActivityMs == stamp;
        switch (saved.Result)
        {
            case FlowStore.SaveResult.Saved:
                entry.Etag = saved.Etag;
                entry.Unsaved = !quietSince;
                break;
            case FlowStore.SaveResult.Conflict:
                // Another copy of this flow saved a newer state: ours is stale, let it go.
                services.Counters.StateConflict();
                break;
            default:
                // Redis could not take it: stay, and try again after another idle period.
                entry.LastActivityMs = Environment.TickCount64;
                return;
        }
        if (quietSince)
        {
            Remove(slot);
            services.Counters.FlowPassivated();
        }
    }

    /// <summary>Stopped for another reason than idleness (the Node is shutting down): keep what open flows know.</summary>
    private async Task OnStoppingAsync()
    {
        var saves = new List<Task>();
        for (var slot = 0; slot < _used; slot++)
        {
            ref var entry = ref _entries[slot];
            if (entry.State is { Closed: true } && entry.HandOverByMs != 0)
                HandOverClosed(ref entry); // no waiting for runtime events on the way out
            if (entry.State is { Closed: false } && entry.Unsaved && !entry.Saving)
                saves.Add(services.Store.SaveOpenAsync(View(entry.State), entry.Etag));
        }
        try
        {
            await Task.WhenAll(saves).ConfigureAwait(false);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            // counted by the connection
        }
    }
}
