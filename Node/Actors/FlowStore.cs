using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Google.Protobuf;

namespace FlowMesh.Node.Actors;

/// <summary>
/// Flows in Redis: the saved state of open flows whose actors were passivated
/// (compare-and-set on an etag, the pattern of Orleans' Redis grain storage, so a
/// stale activation cannot overwrite a newer state), and closed flows kept for history
/// (written by the Aggregator that took the flow for its session).
/// </summary>
public sealed class FlowStore(RedisConnection redis, RedisKeys keys, TimeSpan openStateTtl)
{
    // KEYS[1] state hash (fields as StoredFlows reads them); ARGV: expected etag ('' = must not exist), new etag, view, ttl seconds.
    private const string CompareAndSet = """
        local current = redis.call('HGET', KEYS[1], 'etag')
        if (current or '') ~= ARGV[1] then return 0 end
        redis.call('HSET', KEYS[1], 'etag', ARGV[2], 'view', ARGV[3])
        redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
        return 1
        """;

    /// <summary>The saved state of an open flow, or null. Throws on Redis failure (counted by the caller).</summary>
    public async Task<(FlowView View, string Etag)?> LoadAsync(string hostId, ulong cookie)
    {
        try
        {
            var state = await StoredFlows.ReadPassivatedAsync(redis.Database, keys, hostId, cookie).ConfigureAwait(false);
            redis.Succeeded();
            return state;
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "load a passivated flow");
            throw;
        }
    }

    /// <summary>The closed record of a flow, or null.</summary>
    public async Task<FlowView?> LoadClosedAsync(string hostId, ulong cookie)
    {
        try
        {
            var closed = await StoredFlows.ReadClosedAsync(redis.Database, keys, hostId, cookie).ConfigureAwait(false);
            redis.Succeeded();
            return closed;
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "load a closed flow");
            throw;
        }
    }

    /// <summary>Forgets the saved state of a flow that closed after it was saved (fire and forget: a failure is counted by the connection, and the state expires with its TTL).</summary>
    public void DeleteOpen(string hostId, ulong cookie)
    {
        try
        {
            _ = redis.Database.KeyDeleteAsync(keys.FlowState(hostId, cookie), StackExchange.Redis.CommandFlags.FireAndForget);
            redis.Succeeded(write: true);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "delete a passivated flow's state");
        }
    }

    public enum SaveResult { Saved, Conflict, Failed }

    /// <summary>Saves an open flow's state if the stored etag is still <paramref name="expectedEtag"/>; returns the new etag when saved.</summary>
    public async Task<(SaveResult Result, string? Etag)> SaveOpenAsync(FlowView view, string? expectedEtag)
    {
        var etag = Guid.NewGuid().ToString("N");
        try
        {
            var saved = (long)await redis.Database.ScriptEvaluateAsync(CompareAndSet, [keys.FlowState(view.HostId, view.Cookie)],
                [expectedEtag ?? "", etag, view.ToByteArray(), (long)openStateTtl.TotalSeconds]).ConfigureAwait(false);
            redis.Succeeded(write: true);
            return saved == 1 ? (SaveResult.Saved, etag) : (SaveResult.Conflict, null);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "save a passivated flow");
            return (SaveResult.Failed, null);
        }
    }
}
