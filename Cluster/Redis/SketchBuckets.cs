using FlowMesh.Contracts.Cluster;

namespace FlowMesh.Cluster.Redis;

/// <summary>
/// Writes sketches to their 10 s bucket hashes (<see cref="RedisKeys.LatencyBucket"/>), one
/// field per writer (an Aggregator's member id, a Node's host id), in one batch: a retry
/// after an outage replaces the writer's field, so nothing is counted twice. Shared by the
/// Aggregators' latency series and the Nodes' runtime series.
/// </summary>
public static class SketchBuckets
{
    /// <summary>One sketch for one series and bucket (its start, Unix seconds), already serialised.</summary>
    public readonly record struct Write(string Scope, string Metric, long BucketUnixSeconds, byte[] Bytes);

    /// <summary>Writes them all in one batch; throws what Redis throws.</summary>
    public static async Task WriteAsync(RedisConnection redis, RedisKeys keys, string field, IReadOnlyList<Write> writes, TimeSpan ttl)
    {
        var batch = redis.Database.CreateBatch();
        var tasks = new List<Task>(writes.Count * 2);
        foreach (var write in writes)
        {
            var key = keys.LatencyBucket(write.Scope, write.Metric, write.BucketUnixSeconds);
            tasks.Add(batch.HashSetAsync(key, field, write.Bytes));
            tasks.Add(batch.KeyExpireAsync(key, ttl));
        }
        batch.Execute();
        await Task.WhenAll(tasks).ConfigureAwait(false);
        redis.Succeeded(write: true);
    }
}
