using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Google.Protobuf;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>Sessions in Redis: one value per session with a TTL, indexed by end time.</summary>
public sealed class SessionStore(RedisConnection redis, RedisKeys keys, TimeSpan ttl, AggregatorCounters counters) : IAsyncDisposable
{
    private readonly IndexedRecordWriter _writer = new(redis, keys.SessionIndex, ttl, counters.SessionsNotStored, "sessions");

    public void Save(SessionView session) =>
        _writer.Enqueue(new IndexedRecord(keys.Session(session.Id), session.ToByteArray(), session.EndUnixMs, session.Id));

    public Task<SessionView?> LoadAsync(string id) => LoadAsync(redis, keys, id);

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
