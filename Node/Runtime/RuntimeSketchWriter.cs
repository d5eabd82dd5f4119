using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Latency;
using Google.Protobuf;

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

    private readonly Dictionary<(string Scope, string Metric, long Bucket), Entry> _entries = [];

    public static long BucketOf(long unixMs) => unixMs / (BucketSeconds * 1000L) * BucketSeconds;

    /// <summary>The sketch of the bucket that holds <paramref name="unixMs"/>; marked to be written.</summary>
    public LatencySketch For(string scope, string metric, long unixMs)
    {
        var key = (scope, metric, BucketOf(unixMs));
        if (!_entries.TryGetValue(key, out var entry))
            _entries[key] = entry = new Entry();
        entry.Dirty = true;
        return entry.Sketch;
    }

    public int Buckets => _entries.Count;

    public async Task FlushAsync(long nowUnixMs)
    {
        var oldest = BucketOf(nowUnixMs - (long)Keep.TotalMilliseconds);
        var writes = new List<((string Scope, string Metric, long Bucket) Key, byte[] Bytes)>();
        List<(string, string, long)>? expired = null;
        foreach (var (key, entry) in _entries)
        {
            if (entry.Dirty && !entry.Sketch.IsEmpty)
                writes.Add((key, entry.Sketch.ToData().ToByteArray()));
            else if (key.Bucket < oldest)
                (expired ??= []).Add(key);
            entry.Dirty = false;
        }
        if (expired is not null)
        {
            foreach (var key in expired)
                _entries.Remove(key);
        }
        if (writes.Count == 0)
            return;
        try
        {
            await SketchBuckets.WriteAsync(redis, keys, hostId, [.. writes.Select(w => new SketchBuckets.Write(w.Key.Scope, w.Key.Metric, w.Key.Bucket, w.Bytes))], ttl)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "write runtime sketches");
            foreach (var (key, _) in writes)
            {
                if (_entries.TryGetValue(key, out var entry))
                    entry.Dirty = true;
            }
        }
    }

    private sealed class Entry
    {
        public LatencySketch Sketch { get; } = new();
        public bool Dirty { get; set; }
    }
}
