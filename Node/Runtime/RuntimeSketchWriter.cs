using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Latency;

namespace FlowMesh.Node.Runtime;

/// <summary>
/// This host's runtime series (<see cref="RuntimeSeries"/>), one sketch per (process scope,
/// metric, 10 s bucket), written to Redis once a second under this host's field of the
/// bucket's hash, as the Aggregators write latency: a retry after an outage replaces the
/// field, never counts twice. Used from the monitor's loop only (not thread-safe).
/// </summary>
internal sealed class RuntimeSketchWriter(RedisConnection redis, RedisKeys keys, string hostId, TimeSpan ttl)
{
    public const int BucketSeconds = 10;

    /// <summary>Buckets leave memory this long after they end (they are in Redis by then).</summary>
    private static readonly TimeSpan Keep = TimeSpan.FromMinutes(1);

    private readonly SketchBucketTable _table = new();

    public static long BucketOf(long unixMs) => unixMs / (BucketSeconds * 1000L) * BucketSeconds;

    /// <summary>The sketch of the bucket that holds <paramref name="unixMs"/>; marked to be written.</summary>
    public LatencySketch For(string scope, string metric, long unixMs) => _table.For(scope, metric, BucketOf(unixMs));

    public async Task FlushAsync(long nowUnixMs)
    {
        var writes = _table.TakeChanged(BucketOf(nowUnixMs - (long)Keep.TotalMilliseconds));
        if (writes.Count == 0)
            return;
        try
        {
            await SketchBuckets.WriteAsync(redis, keys, hostId, writes, ttl).ConfigureAwait(false);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "write runtime sketches");
            _table.MarkChanged(writes);
        }
    }
}
