using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Google.Protobuf;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>Sessions in Redis: one value per session with a TTL, indexed by end time.</summary>
public sealed class SessionStore : IAsyncDisposable
{
    private readonly RedisConnection _redis;
    private readonly RedisKeys _keys;
    private readonly IndexedRecordWriter _writer;

    public SessionStore(RedisConnection redis, RedisKeys keys, TimeSpan ttl, AggregatorCounters counters, long maxIndexed = 1_000_000)
    {
        _redis = redis;
        _keys = keys;
        _writer = new IndexedRecordWriter(redis, keys.SessionIndex, ttl, counters.SessionsNotStored, "sessions",
            written: session => OnStored?.Invoke((SessionView)session), maxIndexed);
    }

    /// <summary>Told every session saved with <c>confirm</c> once Redis has it (the Nodes' confirmations plug in here).</summary>
    public Action<SessionView>? OnStored { get; set; }

    /// <param name="session">The session as it is now.</param>
    /// <param name="confirm">Settled: once stored, its sides' Nodes may forget them.</param>
    public void Save(SessionView session, bool confirm = false) =>
        _writer.Enqueue(new IndexedRecord(_keys.Session(session.Id), session.ToByteArray(), session.EndUnixMs, session.Id, confirm ? session : null));

    public Task<SessionView?> LoadAsync(string id) => LoadAsync(_redis, _keys, id);

    /// <summary>A stored session, or null when Redis has none (or cannot be reached: counted as a failure).</summary>
    public static async Task<SessionView?> LoadAsync(RedisConnection redis, RedisKeys keys, string id)
    {
        try
        {
            var bytes = await redis.Database.StringGetAsync(keys.Session(id)).ConfigureAwait(false);
            redis.Succeeded();
            return bytes.IsNull ? null : SessionView.Parser.ParseFrom((byte[])bytes!);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "load a session");
            return null;
        }
    }

    public Task FlushAsync(TimeSpan limit) => _writer.FlushAsync(limit);

    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}
