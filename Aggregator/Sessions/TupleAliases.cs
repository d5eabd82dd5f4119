using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using StackExchange.Redis;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// Where a one-sided session keyed by tag or ISN pair can be found by its 5-tuple, for a
/// side first seen mid-life: that side has no ISNs and no tag, so the Node keys it by
/// tuple and it reaches another session, possibly on another Aggregator. In Redis
/// because the two sessions may live on different members; kept for a few join windows
/// (a connection's two sides close within moments of each other).
/// </summary>
public sealed class TupleAliases(RedisConnection redis, RedisKeys keys, TimeSpan keep)
{
    /// <summary>Records that <paramref name="sessionKey"/> waits for a peer under <paramref name="tupleKey"/> (fire and forget; a failure only costs the join).</summary>
    public void Publish(string tupleKey, string sessionKey)
    {
        try
        {
            _ = redis.Database.StringSetAsync(keys.TupleAlias(tupleKey), sessionKey, keep, flags: CommandFlags.FireAndForget);
            redis.Succeeded(write: true);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "publish a tuple alias");
        }
    }

    /// <summary>The session key waiting under this tuple, if any.</summary>
    public async Task<string?> FindAsync(string tupleKey)
    {
        try
        {
            var value = await redis.Database.StringGetAsync(keys.TupleAlias(tupleKey)).ConfigureAwait(false);
            redis.Succeeded();
            return value.IsNull ? null : value.ToString();
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "look up a tuple alias");
            return null;
        }
    }
}
