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
/// looks a session up across the network per flow. A flow that no Aggregator took
/// (none running, or it did not answer) is counted, not retried forever.
/// </summary>
public sealed class SessionRouter : IAsyncDisposable
{
    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(5);
    private readonly ClusterMember _member;
    private readonly ILogger _logger;
    private long _delivered;
    private long _undelivered;
    private readonly BatchQueue<FlowView> _queue;
    private readonly bool _moving;
    private bool _warnedNoAggregator;

    /// <param name="member">The member sending.</param>
    /// <param name="logger">Where the first "no Aggregator" is said.</param>
    /// <param name="moving">An Aggregator moving sides it took to another's sessions (their records are already written).</param>
    public SessionRouter(ClusterMember member, ILogger logger, bool moving = false)
    {
        _member = member;
        _logger = logger;
        _moving = moving;
        _queue = new BatchQueue<FlowView>(SendAsync, n => Interlocked.Add(ref _undelivered, n));
    }

    /// <summary>Flow views an Aggregator acknowledged.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Flow views no Aggregator took (none running, no answer, or the queue full).</summary>
    public long Undelivered => Interlocked.Read(ref _undelivered);

    /// <summary>Flow views waiting to be sent.</summary>
    public int Queued => _queue.Queued;

    public void Deliver(FlowView flow) => _queue.Enqueue(flow);

    private async Task SendAsync(List<FlowView> batch)
    {
        var byMember = new Dictionary<Member, SessionRecords>();
        foreach (var flow in batch)
        {
            var target = _member.Lookup.Choose(ClusterIdentity.Create(SessionKeys.For(flow), ClusterKinds.Session));
            if (target is null)
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
            if (!byMember.TryGetValue(target, out var records))
                byMember[target] = records = new SessionRecords { Moved = _moving };
            records.Flows.Add(flow);
        }
        await Task.WhenAll(byMember.Select(async pair =>
        {
            try
            {
                using var timeout = new CancellationTokenSource(AckTimeout);
                await _member.System.Root.RequestAsync<SessionRecordsAck>(
                    PID.FromAddress(pair.Key.Address, ClusterKinds.SessionIngressActor), pair.Value, timeout.Token).ConfigureAwait(false);
                Interlocked.Add(ref _delivered, pair.Value.Flows.Count);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException or DeadLetterException)
            {
                Interlocked.Add(ref _undelivered, pair.Value.Flows.Count);
            }
        })).ConfigureAwait(false);
    }

    /// <summary>Waits until everything queued so far has been handed over (or counted).</summary>
    public Task FlushAsync(TimeSpan limit) => _queue.FlushAsync(limit);

    public ValueTask DisposeAsync() => _queue.DisposeAsync();
}
