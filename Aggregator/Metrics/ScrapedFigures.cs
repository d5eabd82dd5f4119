using FlowMesh.Aggregator.Gateway;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using Prometheus;

namespace FlowMesh.Aggregator.Metrics;

/// <summary>
/// The figures <c>/api/cluster</c> shows, as Prometheus series read when <c>/metrics</c> is
/// scraped: this Aggregator's (<c>flowmesh_aggregator_*{member}</c>, one metric per row of
/// <see cref="AggregatorCounterTable"/> or per family, with its label), every Node's as it
/// last published them in Redis (<c>flowmesh_node_*{host}</c>: the cluster's drops in one
/// scrape), and the cluster's loss totals across restarts (<c>flowmesh_cluster_losses_total</c>).
/// </summary>
internal sealed class ScrapedFigures : IDisposable
{
    private static readonly Dictionary<string, CounterSpec> NodeFigures = NodeCounterTable.All.ToDictionary(s => s.Name, StringComparer.Ordinal);

    private static readonly string[] LossCounters =
        [.. NodeCounterTable.All.Concat(AggregatorCounterTable.All).Where(s => s.IsLoss).Select(s => s.Name).Distinct(StringComparer.Ordinal)];

    private readonly GatewayContext _gateway;
    private readonly IMetricFactory _metrics;
    private readonly Dictionary<string, PublishedFamily> _families = new(StringComparer.Ordinal);
    private readonly PublishedFamily _losses;

    /// <summary>Scrapes may come at once; each reads and sets the families alone.</summary>
    private readonly SemaphoreSlim _one = new(1, 1);

    public ScrapedFigures(CollectorRegistry registry, IMetricFactory metrics, GatewayContext gateway)
    {
        _gateway = gateway;
        _metrics = metrics;
        _losses = new PublishedFamily(metrics, "flowmesh_cluster_losses_total",
            "What each loss counter has counted cluster-wide since the cluster's Redis began, across member restarts.", counter: true, ["counter"]);
        registry.AddBeforeCollectCallback(ReadAsync);
    }

    public void Dispose() => _one.Dispose();

    private async Task ReadAsync(CancellationToken cancel)
    {
        await _one.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            var member = _gateway.Member.System.Id;
            foreach (var family in _gateway.Figures().GroupBy(f => f.Spec.Family ?? f.Spec.Name))
            {
                var first = family.First().Spec;
                var help = first.Family is null ? first.Help : string.Join(" ", family.Select(f => $"{f.Spec.Label}: {f.Spec.Help}"));
                var labels = first.LabelPair is { } pair ? new[] { "member", pair.Name } : ["member"];
                var metric = Family(first.MetricName("flowmesh_aggregator_"), help, first.Kind, labels);
                foreach (var (spec, value) in family)
                    metric.Set(spec.LabelPair is { } p ? [member, p.Value] : [member], value);
            }
            await ReadNodesAsync().ConfigureAwait(false);
            // Every loss counter, at 0 until it counts: increase() then works from the first loss.
            var totals = await LossTotals.ReadAsync(_gateway.Db, _gateway.Keys).ConfigureAwait(false);
            foreach (var counter in LossCounters.Concat(totals.Keys).Distinct(StringComparer.Ordinal))
                _losses.Set([counter], totals.GetValueOrDefault(counter));
            foreach (var family in _families.Values)
                family.RemoveUnset();
            _losses.RemoveUnset();
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            // The scrape still answers, with the figures as last read; the failure is counted.
            _gateway.Member.Redis.Failed(e, "read the cluster's figures for /metrics");
        }
        finally
        {
            _one.Release();
        }
    }

    private async Task ReadNodesAsync()
    {
        foreach (var m in _gateway.Member.Provider.Registrations.Values.Where(m => m.Role == ClusterKinds.NodeRole))
        {
            foreach (var (field, value) in await ClusterEndpoints.ReadCountersAsync(_gateway.Db, _gateway.Keys.NodeStatus(m.HostId)).ConfigureAwait(false))
            {
                if (NodeCounterTable.NotFigures.Contains(field))
                    continue;
                // A field this gateway does not know (a newer Node) is still shown, as a gauge.
                var spec = NodeFigures.GetValueOrDefault(field) ?? new CounterSpec(field, $"Node status field {field}.", CounterKind.Gauge);
                Family(spec.MetricName("flowmesh_node_"), spec.Help, spec.Kind, ["host"]).Set([m.HostId], value);
            }
        }
    }

    private PublishedFamily Family(string name, string help, CounterKind kind, string[] labels)
    {
        if (!_families.TryGetValue(name, out var family))
            _families[name] = family = new PublishedFamily(_metrics, name, help, kind == CounterKind.Counter, labels);
        return family;
    }
}
