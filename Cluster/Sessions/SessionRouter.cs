using FlowMesh.Cluster.Placement;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Microsoft.Extensions.Logging;
using Proto;
using Proto.Cluster;

namespace FlowMesh.Cluster.Sessions;

/// <summary>
/// Hands flows to the sessions that own their keys: closed flows at once, open
/// ones now and then. Flows are grouped by the Aggregator member that hosts each key
/// (the member the cluster's placement would pick for that session, by rendezvous
/// hashing) and sent to its ingress actor in one message per batch, so a Node never
/// looks a session up across the network per flow.
///
/// At least once, for closed flows: an Aggregator's acknowledgement says only that it
/// received a batch, and it holds a session in memory until both sides have closed (or
/// the join window is over), so a Node keeps each closed view in its
/// <see cref="HandOffLedger"/> until the Aggregator says the session is stored
/// (<see cref="FlowsStored"/>, to this Node's hand-off actor). A view whose Aggregator
/// failed a delivery or left the cluster is sent again at once to the member that owns
/// its key now; one unconfirmed for <see cref="HandOffOptions.ResendAfter"/> is sent
/// again too, up to <see cref="HandOffOptions.MaxResends"/> times, then counted as
/// undelivered. A member that failed a delivery is passed over for new flows at once,
/// not when its lease runs out, and taken back after <see cref="HandOffOptions.SuspectFor"/>
/// if it is still registered (it was slow, not dead). Open views are not kept: the
/// flow's close brings everything they said.
/// </summary>
public sealed class SessionRouter : IAsyncDisposable
{
    private static readonly TimeSpan ResendCheck = TimeSpan.FromMilliseconds(500);

    private readonly ClusterMember _member;
    private readonly ILogger _logger;
    private readonly HandOffOptions _options;
    private readonly bool _moving;
    private readonly HandOffLedger? _ledger;
    private readonly BatchQueue<Handed> _queue;
    private readonly Dictionary<string, long> _suspects = []; // member id -> until (Environment.TickCount64), under its own lock
    private readonly CancellationTokenSource _stop = new();
    private readonly Task? _resending;
    private long _delivered;
    private long _undelivered;
    private long _resent;
    private long _untracked;
    private bool _warnedNoAggregator;

    private readonly record struct Handed(FlowView View, int Attempt);

    /// <param name="member">The member sending.</param>
    /// <param name="logger">Where the first "no Aggregator" is said.</param>
    /// <param name="options">Resend settings; null: defaults.</param>
    /// <param name="moving">
    /// An Aggregator moving sides it took to another's sessions: their records are already
    /// written, and the Node that sent them keeps them until their session is stored, so
    /// they are not kept here.
    /// </param>
    public SessionRouter(ClusterMember member, ILogger logger, HandOffOptions? options = null, bool moving = false)
    {
        _member = member;
        _logger = logger;
        _options = options ?? new HandOffOptions();
        _moving = moving;
        _queue = new BatchQueue<Handed>(SendAsync, n => Interlocked.Add(ref _undelivered, n));
        if (!moving)
        {
            _ledger = new HandOffLedger(_options.MaxUnconfirmed);
            member.System.Root.SpawnNamed(Props.FromFunc(context =>
            {
                if (context.Message is FlowsStored stored)
                    _ledger.Confirm(stored.Cookies);
                return Task.CompletedTask;
            }), ClusterKinds.HandOffActor);
            _resending = Task.Run(ResendLoopAsync);
        }
    }

    /// <summary>Flow views an Aggregator acknowledged receiving (resends included).</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Flow views no Aggregator took (none running, the queue full, or unconfirmed after every attempt).</summary>
    public long Undelivered => Interlocked.Read(ref _undelivered);

    /// <summary>Closed views sent again: their Aggregator died or left, or never confirmed them stored.</summary>
    public long Resent => Interlocked.Read(ref _resent);

    /// <summary>Closed views handed over whose session is not yet confirmed stored.</summary>
    public int Unconfirmed => _ledger?.Count ?? 0;

    /// <summary>Closed views handed over but not kept for a resend (the ledger was full): an Aggregator dying would take them along.</summary>
    public long Untracked => Interlocked.Read(ref _untracked);

    /// <summary>Flow views waiting to be sent.</summary>
    public int Queued => _queue.Queued;

    public void Deliver(FlowView flow) => _queue.Enqueue(new Handed(flow, 0));

    private async Task SendAsync(List<Handed> batch)
    {
        var members = LiveAggregators();
        var byMember = new Dictionary<Member, SessionRecords>();
        var closed = _ledger is null ? null : new List<(FlowView, string, int)>(batch.Count);
        foreach (var (flow, attempt) in batch)
        {
            if (members.Count == 0)
            {
                Interlocked.Increment(ref _undelivered);
                if (!_warnedNoAggregator)
                {
                    _warnedNoAggregator = true;
                    _logger.LogWarning("No Aggregator in the cluster: flows are not joined into sessions (counted as undelivered)");
                }
                continue;
            }
            _warnedNoAggregator = false;
            var target = Rendezvous.Choose(members, SessionKeys.For(flow));
            if (!byMember.TryGetValue(target, out var records))
                byMember[target] = records = new SessionRecords { Moved = _moving };
            (attempt == 0 ? records.Flows : records.Resent).Add(flow);
            if (flow.Closed)
                closed?.Add((flow, target.Id, attempt));
        }
        // Kept before they are sent: a confirmation can come before this send's own acknowledgement.
        var untracked = closed is { Count: > 0 } ? _ledger!.Track(closed, Environment.TickCount64) : null;
        if (untracked is not null)
            Interlocked.Add(ref _untracked, untracked.Count);
        await Task.WhenAll(byMember.Select(async pair =>
        {
            var count = pair.Value.Flows.Count + pair.Value.Resent.Count;
            try
            {
                using var timeout = new CancellationTokenSource(_options.AckTimeout);
                await _member.System.Root.RequestAsync<SessionRecordsAck>(
                    PID.FromAddress(pair.Key.Address, ClusterKinds.SessionIngressActor), pair.Value, timeout.Token).ConfigureAwait(false);
                Interlocked.Add(ref _delivered, count);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException or DeadLetterException)
            {
                Suspect(pair.Key.Id);
                // Closed views in the ledger go to the key's next owner; open ones are lost (their close will tell all), and so are closed ones the full ledger could not keep.
                var lost = _ledger is null ? count : pair.Value.Flows.Concat(pair.Value.Resent).Count(f => !f.Closed || untracked?.Contains(f) == true);
                Interlocked.Add(ref _undelivered, lost);
            }
        })).ConfigureAwait(false);
    }

    /// <summary>The Aggregators to route to: every member hosting sessions but those that just failed a delivery.</summary>
    private List<Member> LiveAggregators()
    {
        var all = _member.Cluster.MemberList.GetMembersByKind(ClusterKinds.Session);
        var live = new List<Member>(all.Length);
        var now = Environment.TickCount64;
        lock (_suspects)
        {
            foreach (var m in all)
            {
                if (!(_suspects.TryGetValue(m.Id, out var until) && until > now))
                    live.Add(m);
            }
        }
        return live;
    }

    private void Suspect(string memberId)
    {
        lock (_suspects)
        {
            if (!_suspects.ContainsKey(memberId))
                _logger.LogWarning("Aggregator {Member} did not take a batch of flows: its sessions go to the other Aggregators", memberId);
            _suspects[memberId] = Environment.TickCount64 + (long)_options.SuspectFor.TotalMilliseconds;
        }
    }

    private async Task ResendLoopAsync()
    {
        using var timer = new PeriodicTimer(ResendCheck);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                Resend();
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Resend()
    {
        var now = Environment.TickCount64;
        var present = _member.Cluster.MemberList.GetMembersByKind(ClusterKinds.Session).Select(m => m.Id).ToHashSet(StringComparer.Ordinal);
        HashSet<string> suspects;
        lock (_suspects)
        {
            foreach (var id in _suspects.Where(s => s.Value <= now || !present.Contains(s.Key)).Select(s => s.Key).ToList())
                _suspects.Remove(id);
            suspects = [.. _suspects.Keys];
        }
        var due = _ledger!.TakeForResend(id => !present.Contains(id) || suspects.Contains(id), now - (long)_options.ResendAfter.TotalMilliseconds);
        foreach (var (view, attempt) in due)
        {
            if (attempt >= _options.MaxResends)
            {
                Interlocked.Increment(ref _undelivered);
                continue;
            }
            Interlocked.Increment(ref _resent);
            _queue.Enqueue(new Handed(view, attempt + 1));
        }
    }

    /// <summary>Waits until everything queued so far has been handed over (or counted).</summary>
    public Task FlushAsync(TimeSpan limit) => _queue.FlushAsync(limit);

    private int _disposed;

    // Disposed by its pipeline and again by the host's container: once is enough.
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_resending is not null)
            await _resending.ConfigureAwait(false);
        await _queue.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
