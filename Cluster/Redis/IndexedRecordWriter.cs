using StackExchange.Redis;

namespace FlowMesh.Cluster.Redis;

/// <summary>One record to keep: a value under its own key, and its place in an index.</summary>
public readonly record struct IndexedRecord(string Key, byte[] Value, double Score, string Member, string? Delete = null);

/// <summary>
/// Writes records (a value with a TTL, plus a member of a sorted-set index) to Redis
/// many per round trip: callers only enqueue; one loop writes batches with one script
/// call each. Measured on the Node: one round trip per record cost the actor path a
/// third of its throughput. A record that cannot be written (Redis away, or the queue
/// full) is reported through <c>lost</c>, never dropped silently. The index is trimmed
/// of entries older than the TTL once a second.
/// </summary>
public sealed class IndexedRecordWriter : IAsyncDisposable
{
    // KEYS: index, then one key per record. ARGV: ttl seconds, then per record: value, score, member.
    private const string WriteBatch = """
        local ttl = tonumber(ARGV[1])
        for i = 2, #KEYS do
          local a = (i - 2) * 3 + 2
          redis.call('SET', KEYS[i], ARGV[a], 'EX', ttl)
          redis.call('ZADD', KEYS[1], ARGV[a + 1], ARGV[a + 2])
        end
        return #KEYS - 1
        """;

    private readonly RedisConnection _redis;
    private readonly string _index;
    private readonly TimeSpan _ttl;
    private readonly Action<int> _lost;
    private readonly string _what;
    private readonly BatchQueue<IndexedRecord> _queue;
    private long _nextTrimMs;

    /// <param name="redis">The process's Redis connection.</param>
    /// <param name="index">The sorted set indexing the records (score: time in Unix ms).</param>
    /// <param name="ttl">How long records are kept.</param>
    /// <param name="lost">Told how many records could not be written.</param>
    /// <param name="what">What the records are, for the outage log line.</param>
    public IndexedRecordWriter(RedisConnection redis, string index, TimeSpan ttl, Action<int> lost, string what)
    {
        _redis = redis;
        _index = index;
        _ttl = ttl;
        _lost = lost;
        _what = what;
        _queue = new BatchQueue<IndexedRecord>(WriteAsync, lost);
    }

    public void Enqueue(IndexedRecord record) => _queue.Enqueue(record);

    private async Task WriteAsync(List<IndexedRecord> batch)
    {
        var keys = new RedisKey[batch.Count + 1];
        var args = new RedisValue[batch.Count * 3 + 1];
        keys[0] = _index;
        args[0] = (long)_ttl.TotalSeconds;
        List<RedisKey>? deletes = null;
        for (var i = 0; i < batch.Count; i++)
        {
            var r = batch[i];
            keys[i + 1] = r.Key;
            args[i * 3 + 1] = r.Value;
            args[i * 3 + 2] = r.Score;
            args[i * 3 + 3] = r.Member;
            if (r.Delete is not null)
                (deletes ??= []).Add(r.Delete);
        }
        try
        {
            await _redis.Database.ScriptEvaluateAsync(WriteBatch, keys, args).ConfigureAwait(false);
            if (deletes is not null)
                await _redis.Database.KeyDeleteAsync([.. deletes]).ConfigureAwait(false);
            var now = Environment.TickCount64;
            if (now >= _nextTrimMs)
            {
                _nextTrimMs = now + 1000;
                await _redis.Database.SortedSetRemoveRangeByScoreAsync(_index, double.NegativeInfinity,
                    DateTimeOffset.UtcNow.Subtract(_ttl).ToUnixTimeMilliseconds()).ConfigureAwait(false);
            }
            _redis.Succeeded(write: true);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            _redis.Failed(e, "record " + _what);
            _lost(batch.Count);
        }
    }

    /// <summary>Waits until everything queued so far has been written (or reported lost).</summary>
    public Task FlushAsync(TimeSpan limit) => _queue.FlushAsync(limit);

    public ValueTask DisposeAsync() => _queue.DisposeAsync();
}
