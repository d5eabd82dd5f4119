using System.Globalization;
using FlowMesh.Cluster.Redis;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Aggregator.Hosting;

/// <summary>
/// Reads the cluster Redis's memory every 10 s (INFO memory and stats): used and maximum
/// memory, the eviction policy, and the keys it evicted, published in this Aggregator's
/// status. Warns once the use passes 90% of maxmemory, and once if the policy would refuse
/// writes at the limit (noeviction: membership renewals fail, and the cluster dissolves)
/// or evict keys without a TTL (allkeys-*: the membership itself). FlowMesh's records all
/// have a TTL, so volatile-lru evicts the oldest sessions and flows first.
/// </summary>
internal sealed class RedisMemoryWatch(RedisConnection redis, ILogger logger)
{
    private const double WarnAt = 0.9;
    private bool _warnedFull;
    private bool _warnedPolicy;

    public long UsedBytes { get; private set; }

    /// <summary>0: no limit.</summary>
    public long MaxBytes { get; private set; }

    /// <summary>Keys Redis evicted for memory since it started (records lost: counted here).</summary>
    public long EvictedKeys { get; private set; }

    public async Task SampleAsync()
    {
        try
        {
            // As a plain command: IServer.InfoAsync wants the connection in admin mode, which would allow far more than reading.
            var info = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var section in new[] { "memory", "stats" })
            {
                var text = (string?)await redis.Database.ExecuteAsync("INFO", section).ConfigureAwait(false) ?? "";
                foreach (var line in text.Split('\n'))
                {
                    var colon = line.IndexOf(':', StringComparison.Ordinal);
                    if (colon > 0)
                        info[line[..colon]] = line[(colon + 1)..].Trim();
                }
            }
            redis.Succeeded();
            UsedBytes = Number(info, "used_memory");
            MaxBytes = Number(info, "maxmemory");
            var evictedBefore = EvictedKeys;
            EvictedKeys = Number(info, "evicted_keys");
            var policy = info.GetValueOrDefault("maxmemory_policy", "");
            if (MaxBytes > 0 && !_warnedPolicy && !policy.StartsWith("volatile-", StringComparison.Ordinal))
            {
                _warnedPolicy = true;
                logger.LogWarning("Redis has maxmemory {Max} MiB with policy {Policy}: at the limit it refuses writes (noeviction) or evicts the membership (allkeys-*); use maxmemory-policy volatile-lru",
                    MaxBytes >> 20, policy);
            }
            // Near the limit, or past it since the last look (used memory falls back once Redis has evicted, so a sample may miss the peak).
            var full = MaxBytes > 0 && (UsedBytes >= WarnAt * MaxBytes || EvictedKeys > evictedBefore);
            if (full && !_warnedFull)
                logger.LogWarning("Redis uses {Used} MiB of its {Max} MiB and has evicted {Evicted} keys: it evicts the oldest records at the limit (counted as redis_evicted_keys)",
                    UsedBytes >> 20, MaxBytes >> 20, EvictedKeys);
            _warnedFull = full;
        }
        catch (Exception e) when (RedisConnection.IsOutage(e) || e is StackExchange.Redis.RedisCommandException)
        {
            redis.Failed(e, "read Redis's memory");
        }
    }

    private static long Number(Dictionary<string, string> info, string name) =>
        long.TryParse(info.GetValueOrDefault(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;
}
