namespace FlowMesh.Cluster.Membership;

/// <summary>
/// The registry's Lua scripts. Each runs atomically in Redis and takes every time
/// from Redis's own clock (TIME), so members never compare their clocks.
/// </summary>
internal static class MembershipScripts
{
    private const string Now = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        """;

    /// <summary>
    /// KEYS: leases, registrations. ARGV: member id, lease ms, registration.
    /// Renews the lease and writes the registration if it is missing (Redis lost it);
    /// returns 1 when it had to be written again, 0 otherwise.
    /// </summary>
    public const string Renew = Now + """

        local written = redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3])
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        return written
        """;

    /// <summary>
    /// KEYS: leases, registrations, departures. ARGV: departure memory ms, stale-entry age ms.
    /// Returns { now, { id, remaining ms, registration, ... }, { departed ids } } and removes
    /// entries expired long ago, so the registry never grows without bound.
    /// </summary>
    public const string Read = Now + """

        local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
        local members = {}
        for i = 1, #live, 2 do
          local registration = redis.call('HGET', KEYS[2], live[i])
          if registration then
            members[#members + 1] = live[i]
            members[#members + 1] = tostring(tonumber(live[i + 1]) - now)
            members[#members + 1] = registration
          end
        end
        local departed = redis.call('ZRANGEBYSCORE', KEYS[3], now - tonumber(ARGV[1]), '+inf')
        local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
        for i = 1, #stale do
          redis.call('HDEL', KEYS[2], stale[i])
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
        redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[1]))
        return { now, members, departed }
        """;

    /// <summary>KEYS: leases, registrations, departures, channel. ARGV: member id. A graceful leave.</summary>
    public const string Leave = Now + """

        redis.call('ZREM', KEYS[1], ARGV[1])
        redis.call('HDEL', KEYS[2], ARGV[1])
        redis.call('ZADD', KEYS[3], now, ARGV[1])
        redis.call('PUBLISH', KEYS[4], 'left:' .. ARGV[1])
        return 1
        """;
}
