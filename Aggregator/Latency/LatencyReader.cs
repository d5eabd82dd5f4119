using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Latency;
using FlowMesh.Contracts.Messages;
using Google.Protobuf;
using StackExchange.Redis;

namespace FlowMesh.Aggregator.Latency;

/// <summary>Reads latency series back from Redis, merging every member's sketch of every bucket in a window.</summary>
public sealed class LatencyReader(IDatabase db, RedisKeys keys)
{
    /// <summary>Sketches that could not be parsed (written by something else, or corrupted), skipped and counted.</summary>
    public long Malformed => Interlocked.Read(ref _malformed);

    private long _malformed;

    /// <summary>One sketch for the whole window.</summary>
    public async Task<LatencySketch> ReadAsync(string scope, LatencyMetric metric, TimeWindow window)
    {
        var merged = new LatencySketch();
        foreach (var (_, sketch) in await ReadSeriesAsync(scope, metric, window).ConfigureAwait(false))
            merged.Merge(sketch);
        return merged;
    }

    /// <summary>One merged sketch per 10 s bucket in the window (start in Unix seconds), empty buckets left out.</summary>
    public async Task<IReadOnlyList<(long BucketUnixSeconds, LatencySketch Sketch)>> ReadSeriesAsync(string scope, LatencyMetric metric, TimeWindow window)
    {
        var first = LatencyRecorder.BucketOf(window.FromUnixMs);
        var last = LatencyRecorder.BucketOf(window.ToUnixMs - 1);
        var buckets = new List<long>();
        for (var b = first; b <= last; b += LatencyRecorder.BucketSeconds)
            buckets.Add(b);
        var batch = db.CreateBatch();
        var reads = new Task<HashEntry[]>[buckets.Count];
        for (var i = 0; i < buckets.Count; i++)
            reads[i] = batch.HashGetAllAsync(keys.LatencyBucket(scope, metric.Name(), buckets[i]));
        batch.Execute();
        await Task.WhenAll(reads).ConfigureAwait(false);
        var series = new List<(long, LatencySketch)>();
        for (var i = 0; i < buckets.Count; i++)
        {
            var fields = reads[i].Result;
            if (fields.Length == 0)
                continue;
            var sketch = new LatencySketch();
            foreach (var field in fields)
            {
                try
                {
                    sketch.Merge(LatencySketch.FromData(LatencySketchData.Parser.ParseFrom((byte[])field.Value!)));
                }
                catch (Exception e) when (e is InvalidProtocolBufferException or FormatException or ArgumentException)
                {
                    Interlocked.Increment(ref _malformed);
                }
            }
            if (!sketch.IsEmpty)
                series.Add((buckets[i], sketch));
        }
        return series;
    }
}
