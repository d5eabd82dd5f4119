using FlowMesh.Contracts.Cluster;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace FlowMesh.Cluster.Redis;

/// <summary>
/// Watches a member's loss counters (those its table marks <see cref="CounterSpec.IsLoss"/>):
/// warns in the log as soon as one grows, and adds what it grew by to the cluster's
/// loss totals in Redis (<see cref="RedisKeys.LossTotals"/>), which outlive the member's
/// restarts. What Redis could not take is added at the next call that succeeds.
/// </summary>
public sealed class LossTotals(RedisConnection redis, RedisKeys keys, IEnumerable<CounterSpec> table, ILogger logger)
{
    private readonly CounterSpec[] _losses = [.. table.Where(s => s.IsLoss)];
    private readonly Dictionary<string, long> _warned = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _added = new(StringComparer.Ordinal);

    /// <summary>Called with the member's current figures (once a second): one warning per rise, one Redis batch for the totals.</summary>
    public async Task ObserveAsync(Func<string, long> value)
    {
        List<(string Name, long Now, long Delta)>? grown = null;
        foreach (var spec in _losses)
        {
            var now = value(spec.Name);
            var warned = _warned.GetValueOrDefault(spec.Name);
            if (now > warned)
                logger.LogWarning("{Counter} rose from {Before} to {After}: {Meaning}", spec.Name, warned, now, spec.Help);
            _warned[spec.Name] = now;
            var added = _added.GetValueOrDefault(spec.Name);
            if (now > added)
                (grown ??= []).Add((spec.Name, now, now - added));
        }
        if (grown is null)
            return;
        try
        {
            var batch = redis.Database.CreateBatch();
            var writes = grown.Select(g => batch.HashIncrementAsync(keys.LossTotals, g.Name, g.Delta)).ToArray();
            batch.Execute();
            await Task.WhenAll(writes).ConfigureAwait(false);
            redis.Succeeded(write: true);
            foreach (var g in grown)
                _added[g.Name] = g.Now;
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "add to the cluster's loss totals");
        }
    }

    /// <summary>The cluster's loss totals as kept in Redis (empty when Redis does not answer: the caller says so).</summary>
    public static async Task<Dictionary<string, long>> ReadAsync(IDatabase db, RedisKeys keys)
    {
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var field in await db.HashGetAllAsync(keys.LossTotals).ConfigureAwait(false))
        {
            if (field.Value.TryParse(out long n))
                totals[field.Name!] = n;
        }
        return totals;
    }
}
