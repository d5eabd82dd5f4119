using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Google.Protobuf;

namespace FlowMesh.Aggregator.Anomalies;

/// <summary>Anomalies in Redis: one value each with a TTL, indexed by time, and the latest clusters.</summary>
public sealed class AnomalyStore : IAsyncDisposable
{
    private readonly RedisConnection _redis;
    private readonly RedisKeys _keys;
    private readonly IndexedRecordWriter _writer;
    private long _notStored;
    private long _malformed;

    public AnomalyStore(RedisConnection redis, RedisKeys keys, TimeSpan ttl, long maxIndexed)
    {
        _redis = redis;
        _keys = keys;
        _writer = new IndexedRecordWriter(redis, keys.AnomalyIndex, ttl, n => Interlocked.Add(ref _notStored, n), "anomalies", maxIndexed: maxIndexed);
    }

    /// <summary>Anomalies Redis could not take (away, or the write queue full).</summary>
    public long NotStored => Interlocked.Read(ref _notStored);

    /// <summary>Stored anomalies <see cref="RecentAsync"/> could not read.</summary>
    public long Malformed => Interlocked.Read(ref _malformed);

    public void Save(AnomalyView anomaly) =>
        _writer.Enqueue(new IndexedRecord(_keys.Anomaly(anomaly.Id), anomaly.ToByteArray(), anomaly.UnixMs, anomaly.Id));

    /// <summary>The newest anomalies from <paramref name="sinceUnixMs"/> on, at most <paramref name="max"/>, newest first (every Aggregator's).</summary>
    public async Task<IReadOnlyList<AnomalyView>> RecentAsync(long sinceUnixMs, int max)
    {
        var db = _redis.Database;
        var ids = await db.SortedSetRangeByScoreAsync(_keys.AnomalyIndex, sinceUnixMs, double.PositiveInfinity,
            StackExchange.Redis.Exclude.None, StackExchange.Redis.Order.Descending, 0, max).ConfigureAwait(false);
        if (ids.Length == 0)
            return [];
        var values = await db.StringGetAsync([.. ids.Select(id => (StackExchange.Redis.RedisKey)_keys.Anomaly(id.ToString()))]).ConfigureAwait(false);
        var anomalies = new List<AnomalyView>(values.Length);
        foreach (var value in values)
        {
            if (value.IsNull)
                continue; // expired or evicted since the index was read
            try
            {
                anomalies.Add(AnomalyView.Parser.ParseFrom((byte[])value!));
            }
            catch (InvalidProtocolBufferException)
            {
                Interlocked.Increment(ref _malformed); // not one of ours: left out of the clusters, counted
            }
        }
        return anomalies;
    }

    public Task SaveClustersAsync(AnomalyClusters clusters, TimeSpan ttl) =>
        _redis.Database.StringSetAsync(_keys.AnomalyClusters, clusters.ToByteArray(), ttl);

    /// <summary>The latest clusters, or null when none were computed lately (or Redis is away: counted).</summary>
    public static async Task<AnomalyClusters?> LoadClustersAsync(RedisConnection redis, RedisKeys keys)
    {
        try
        {
            var bytes = await redis.Database.StringGetAsync(keys.AnomalyClusters).ConfigureAwait(false);
            redis.Succeeded();
            return bytes.IsNull ? null : AnomalyClusters.Parser.ParseFrom((byte[])bytes!);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "load anomaly clusters");
            return null;
        }
    }

    public Task FlushAsync(TimeSpan limit) => _writer.FlushAsync(limit);

    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}
