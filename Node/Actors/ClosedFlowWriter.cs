using System.Threading.Channels;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Google.Protobuf;
using StackExchange.Redis;

namespace FlowMesh.Node.Actors;

/// <summary>
/// Writes closed flows to Redis for history, many per round trip: flow actors only
/// enqueue their view; one loop serializes and writes batches with one script call
/// each. Measured: one Redis batch per closed flow cost the actor path a third of its
/// throughput. A flow that cannot be written (Redis away, or the queue full) is
/// counted as unrecorded, never silently dropped.
/// </summary>
public sealed class ClosedFlowWriter : IAsyncDisposable
{
    private const int MaxBatch = 512;
    private const int MaxQueued = 200_000;

    // KEYS: index, then one key per flow. ARGV: ttl seconds, then per flow: view, close time (ms), identity.
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
    private readonly RedisKeys _keys;
    private readonly TimeSpan _ttl;
    private readonly NodeCounters _counters;
    private readonly Channel<(FlowView View, bool HadSavedState)> _queue =
        Channel.CreateBounded<(FlowView, bool)>(new BoundedChannelOptions(MaxQueued) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Task _loop;
    private long _nextTrimMs;

    public ClosedFlowWriter(RedisConnection redis, RedisKeys keys, TimeSpan ttl, NodeCounters counters)
    {
        _redis = redis;
        _keys = keys;
        _ttl = ttl;
        _counters = counters;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Queues a closed flow for writing; counted as unrecorded if the queue is full.</summary>
    public void Enqueue(FlowView view, bool hadSavedState)
    {
        if (!_queue.Writer.TryWrite((view, hadSavedState)))
            _counters.FlowsNotRecorded(1);
    }

    private async Task RunAsync()
    {
        var batch = new List<(FlowView View, bool HadSavedState)>(MaxBatch);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && reader.TryRead(out var item))
                batch.Add(item);
            await WriteAsync(batch).ConfigureAwait(false);
            batch.Clear();
        }
    }

    private async Task WriteAsync(List<(FlowView View, bool HadSavedState)> batch)
    {
        var keys = new RedisKey[batch.Count + 1];
        var args = new RedisValue[batch.Count * 3 + 1];
        keys[0] = _keys.ClosedFlowIndex;
        args[0] = (long)_ttl.TotalSeconds;
        List<RedisKey>? savedStates = null;
        for (var i = 0; i < batch.Count; i++)
        {
            var view = batch[i].View;
            keys[i + 1] = _keys.ClosedFlow(view.HostId, view.Cookie);
            args[i * 3 + 1] = view.ToByteArray();
            args[i * 3 + 2] = ((long)view.ClosedNs + view.WallClockOffsetNs) / 1_000_000;
            args[i * 3 + 3] = ClusterKinds.FlowIdentity(view.HostId, view.Cookie);
            if (batch[i].HadSavedState)
                (savedStates ??= []).Add(_keys.FlowState(view.HostId, view.Cookie));
        }
        try
        {
            await _redis.Database.ScriptEvaluateAsync(WriteBatch, keys, args).ConfigureAwait(false);
            if (savedStates is not null)
                await _redis.Database.KeyDeleteAsync([.. savedStates]).ConfigureAwait(false);
            // Entries older than the TTL leave the index once a second.
            var now = Environment.TickCount64;
            if (now >= _nextTrimMs)
            {
                _nextTrimMs = now + 1000;
                await _redis.Database.SortedSetRemoveRangeByScoreAsync(_keys.ClosedFlowIndex, double.NegativeInfinity,
                    DateTimeOffset.UtcNow.Subtract(_ttl).ToUnixTimeMilliseconds()).ConfigureAwait(false);
            }
            _redis.Succeeded(write: true);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            _redis.Failed(e, "record closed flows");
            _counters.FlowsNotRecorded(batch.Count);
        }
    }

    /// <summary>Waits until everything queued so far has been written (or counted as not written).</summary>
    public async Task FlushAsync(TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (_queue.Reader.Count > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(5).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }
}
