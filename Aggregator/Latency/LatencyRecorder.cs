using FlowMesh.Aggregator.Sessions;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Latency;

/// <summary>
/// This member's latency sketches, one per (scope, metric, 10 s bucket), filled from
/// settled sessions and written to Redis once a second. Each write replaces this
/// member's field of the bucket's hash with the whole sketch (HSET), so a retry after a
/// Redis outage never counts twice, and a read merges every member's field.
/// </summary>
public sealed class LatencyRecorder(RedisConnection redis, RedisKeys keys, string memberId, TimeSpan ttl, TimeProvider? time = null) : ISessionSubscriber
{
    public const int BucketSeconds = 10;

    /// <summary>A session that ended longer ago than this is counted in the current bucket: older buckets may already have left memory.</summary>
    private static readonly TimeSpan LateLimit = TimeSpan.FromMinutes(2);

    /// <summary>Flushed buckets are kept this long (more than <see cref="LateLimit"/>, so a late session never rewrites a bucket from scratch).</summary>
    private static readonly TimeSpan Keep = TimeSpan.FromMinutes(3);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _lock = new();
    private readonly SketchBucketTable _table = new();
    private long _values;

    /// <summary>Values recorded since start.</summary>
    public long Values => Interlocked.Read(ref _values);

    public static long BucketOf(long unixMs) => Math.DivRem(unixMs, BucketSeconds * 1000L).Quotient * BucketSeconds;

    /// <summary>
    /// Adds a settled session's values. When the session was recorded before
    /// (<paramref name="recordedBefore"/>), only the values the earlier view lacked are
    /// added, so nothing is counted twice (<see cref="LatencyScopes.NewValuesOf"/>).
    /// </summary>
    public void Record(SessionView session, string edge, SessionView? recordedBefore = null, string? edgeBefore = null)
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var endMs = session.EndUnixMs > 0 && nowMs - session.EndUnixMs < LateLimit.TotalMilliseconds ? Math.Min(session.EndUnixMs, nowMs) : nowMs;
        var bucket = BucketOf(endMs);
        lock (_lock)
        {
            foreach (var (scope, metric, micros) in LatencyScopes.NewValuesOf(session, edge, recordedBefore, edgeBefore))
            {
                if (_table.For(scope, metric.Name(), bucket).Add(micros))
                    _values++;
            }
        }
    }

    /// <summary>Each value once: the first time, and what later views add.</summary>
    public void Settled(in SettledSession session) => Record(session.View, session.Edge, session.Previous, session.PreviousEdge);

    /// <summary>Writes every sketch that changed since the last flush; what Redis refuses stays changed for the next one.</summary>
    public async Task FlushAsync()
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        List<SketchBuckets.Write> writes;
        lock (_lock)
            writes = _table.TakeChanged(BucketOf(nowMs - (long)Keep.TotalMilliseconds));
        if (writes.Count == 0)
            return;
        try
        {
            await SketchBuckets.WriteAsync(redis, keys, memberId, writes, ttl).ConfigureAwait(false);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "write latency sketches");
            lock (_lock)
            {
                _table.MarkChanged(writes);
            }
        }
    }
}
