using FlowMesh.Contracts.Latency;
using Google.Protobuf;

namespace FlowMesh.Cluster.Redis;

/// <summary>
/// One writer's sketches per (scope, metric, 10 s bucket) in memory, with what changed since
/// the last flush: the Aggregators' latency series and the Nodes' runtime series both keep
/// theirs here and write them with <see cref="SketchBuckets"/>. Not thread-safe: the owner locks.
/// </summary>
public sealed class SketchBucketTable
{
    private readonly Dictionary<(string Scope, string Metric, long Bucket), Entry> _entries = [];

    public int Count => _entries.Count;

    /// <summary>The sketch of one series' bucket (its start, Unix seconds), made if new; marked to be written.</summary>
    public LatencySketch For(string scope, string metric, long bucketUnixSeconds)
    {
        var key = (scope, metric, bucketUnixSeconds);
        if (!_entries.TryGetValue(key, out var entry))
            _entries[key] = entry = new Entry();
        entry.Dirty = true;
        return entry.Sketch;
    }

    /// <summary>
    /// The sketches that changed since the last call, serialised, now marked clean; buckets
    /// older than <paramref name="oldestBucket"/> that did not change leave memory (Redis has them).
    /// </summary>
    public List<SketchBuckets.Write> TakeChanged(long oldestBucket)
    {
        var writes = new List<SketchBuckets.Write>();
        List<(string, string, long)>? expired = null;
        foreach (var (key, entry) in _entries)
        {
            if (entry.Dirty && !entry.Sketch.IsEmpty)
                writes.Add(new SketchBuckets.Write(key.Scope, key.Metric, key.Bucket, entry.Sketch.ToData().ToByteArray()));
            else if (key.Bucket < oldestBucket)
                (expired ??= []).Add(key);
            entry.Dirty = false;
        }
        if (expired is not null)
        {
            foreach (var key in expired)
                _entries.Remove(key);
        }
        return writes;
    }

    /// <summary>What Redis refused is written with the next flush.</summary>
    public void MarkChanged(IEnumerable<SketchBuckets.Write> writes)
    {
        foreach (var write in writes)
        {
            if (_entries.TryGetValue((write.Scope, write.Metric, write.BucketUnixSeconds), out var entry))
                entry.Dirty = true;
        }
    }

    private sealed class Entry
    {
        public LatencySketch Sketch { get; } = new();
        public bool Dirty { get; set; }
    }
}
