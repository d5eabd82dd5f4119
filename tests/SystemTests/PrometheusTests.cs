using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using FlowMesh.SystemTests.Harness;
using Xunit.Sdk;

namespace FlowMesh.SystemTests;

/// <summary>
/// A real Prometheus (Debian's) scrapes the gateway of a fleet of real Nodes with
/// deploy/prometheus/local.yml (its target replaced by the test gateway's), while the test
/// makes traffic. The truths: the connections the test made (count, bytes, the reset and
/// the refused one), <c>/api/latency</c>'s P99 from the sketches, and <c>/api/cluster</c>.
/// deploy/prometheus/kubernetes.yml cannot run here: Debian's Prometheus is built without
/// Kubernetes service discovery, and no Kubernetes API server can be installed.
/// </summary>
public sealed partial class PrometheusTests(GatewayFleet fleet) : IClassFixture<GatewayFleet>, IAsyncLifetime
{
    /// <summary>Sessions on the edge once the test's own exchanges are made: at 100, the P99 of the sketch (rank floor(0.99 (n-1))) and of histogram_quantile (rank 0.99 n) are the same value.</summary>
    private const int EdgeSessions = 100;

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    private PrometheusServer _prometheus = null!;

    public async Task InitializeAsync()
    {
        var config = File.ReadAllText(Path.Combine(LocalFleetScript.RepoRoot, "deploy", "prometheus", "local.yml"));
        Assert.Contains("\"127.0.0.1:8080\"", config, StringComparison.Ordinal);
        // Scraped every second here, so the test waits less; the rest of the file as shipped.
        config = config.Replace("\"127.0.0.1:8080\"", $"\"{fleet.Aggregator.GatewayUrl.Authority}\"", StringComparison.Ordinal)
            .Replace("scrape_interval: 5s", "scrape_interval: 1s", StringComparison.Ordinal);
        _prometheus = await PrometheusServer.StartAsync(config);
        await WaitAsync("up{job=\"flowmesh\"}", v => v == 1, "Prometheus scraping the gateway");
    }

    public async Task DisposeAsync() => await _prometheus.DisposeAsync();

    [Fact]
    public async Task Per_edge_series_count_the_tests_connections_and_histogram_quantile_agrees_with_the_api_P99()
    {
        var (client, server) = Ends(fleet.Edge);
        var edge = $"client=\"{client}\",server=\"{server}\"";
        // The fleet's exchanges and the reset one, scraped.
        await WaitAsync($"sum(flowmesh_edge_sessions_total{{{edge}}})", v => v == GatewayFleet.Exchanges + 1, "the fleet's sessions on the edge");
        var upBefore = await SumAsync($"flowmesh_edge_bytes_total{{{edge},direction=\"client_to_server\"}}");
        var downBefore = await SumAsync($"flowmesh_edge_bytes_total{{{edge},direction=\"server_to_client\"}}");

        // More connections while Prometheus scrapes.
        const int more = EdgeSessions - GatewayFleet.Exchanges - 1;
        for (var i = 0; i < more; i++)
            fleet.Exchange(7000, 2000);
        await WaitAsync($"sum(flowmesh_edge_sessions_total{{{edge}}})", v => v == EdgeSessions, $"{EdgeSessions} sessions on the edge");
        Assert.Equal(upBefore + more * 7000, await SumAsync($"flowmesh_edge_bytes_total{{{edge},direction=\"client_to_server\"}}"));
        Assert.Equal(downBefore + more * 2000, await SumAsync($"flowmesh_edge_bytes_total{{{edge},direction=\"server_to_client\"}}"));
        // Every client wrote a tag and every SYN-ACK brought it back; the one reset by the server is the edge's only error.
        Assert.Equal(EdgeSessions, await SumAsync($"flowmesh_edge_tags_total{{{edge},outcome=\"survived\"}}"));
        Assert.Equal(1, await SumAsync($"flowmesh_edge_errors_total{{{edge},kind=\"reset_by_server\"}}"));
        Assert.Empty(await _prometheus.QueryAsync($"flowmesh_edge_errors_total{{{edge},kind!=\"reset_by_server\"}}"));
        Assert.Equal(1, await SumAsync($"flowmesh_edge_errors_total{{server=\"{fleet.Hosts.AddressB}:{GatewayFleet.ClosedPort}\",kind=\"refused\"}}"));
        // Per host: host A's clients and host B's server each saw every one of them.
        Assert.True(await SumAsync("flowmesh_host_sessions_total{host=\"host-a\",side=\"client\"}") >= EdgeSessions + 1);
        Assert.True(await SumAsync("flowmesh_host_sessions_total{host=\"host-b\",side=\"server\"}") >= EdgeSessions);

        // P99 connect latency: the sketches' (the API) and the histogram's (PromQL), from the same values.
        var latency = await ClusterClient.WaitForAsync(() => fleet.GetJsonAsync($"/api/latency?edge={Uri.EscapeDataString(fleet.Edge)}&window=15m"),
            l => l.GetProperty("count").GetInt64() == EdgeSessions, $"the API's {EdgeSessions} connect latencies", Deadline);
        await WaitAsync($"sum(flowmesh_edge_connect_seconds_count{{{edge}}})", v => v == EdgeSessions, "the histogram's count");
        var sketchP99 = latency.GetProperty("p99Ms").GetDouble() / 1000;
        var promP99 = (await _prometheus.ValueAsync($"histogram_quantile(0.99, sum by (le) (flowmesh_edge_connect_seconds_bucket{{{edge}}}))"))!.Value;
        var bounds = (await _prometheus.QueryAsync($"flowmesh_edge_connect_seconds_bucket{{{edge}}}"))
            .Select(s => s.Labels["le"]).Where(le => le != "+Inf").Select(le => double.Parse(le, CultureInfo.InvariantCulture)).Order().ToArray();
        Assert.True(bounds.Length > 10, $"bucket bounds: {string.Join(", ", bounds)}");
        var upper = bounds.First(b => promP99 <= b);
        var lower = bounds.LastOrDefault(b => b < upper);
        // The same bucket, give or take the sketch's 0.5% where a value sits on a bound.
        Assert.True(sketchP99 > lower * 0.99 && sketchP99 <= upper * 1.01,
            $"the API's P99 {sketchP99 * 1e6:F1} us is not in histogram_quantile's bucket ({lower * 1e6:F1}, {upper * 1e6:F1}] us (PromQL: {promP99 * 1e6:F1} us)");

        // The loss counters as /api/cluster has them.
        var cluster = await fleet.GetJsonAsync("/api/cluster");
        var hostA = cluster.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("hostId").GetString() == "host-a");
        Assert.Equal(hostA.GetProperty("counters").GetProperty("kernel_drops").GetInt64(), await SumAsync("flowmesh_node_kernel_drops_total{host=\"host-a\"}"));
        Assert.NotEmpty(await _prometheus.QueryAsync("flowmesh_cluster_losses_total{counter=\"kernel_drops\"}"));
    }

    [Fact]
    public async Task Every_query_of_the_Grafana_dashboard_runs_in_Prometheus_on_series_the_gateway_exports()
    {
        var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(LocalFleetScript.RepoRoot, "deploy", "grafana", "flowmesh.json"))).RootElement;
        var queries = dashboard.GetProperty("panels").EnumerateArray()
            .Where(p => p.TryGetProperty("targets", out _))
            .SelectMany(p => p.GetProperty("targets").EnumerateArray().Select(t => (Panel: p.GetProperty("title").GetString()!, Expr: t.GetProperty("expr").GetString()!)))
            .ToList();
        Assert.True(queries.Count >= 12, $"{queries.Count} queries");
        foreach (var title in new[] { "Edges: sessions, errors, P99 connect", "P99 connect latency", "Connect latency heatmap", "Errors by kind", "Trace tag survival", "Lost, cluster-wide (since the cluster's Redis began)" })
            Assert.Contains(queries, q => q.Panel == title);

        var exported = TypeLine().Matches(await fleet.Http.GetStringAsync("/metrics")).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        foreach (var (panel, expr) in queries)
        {
            foreach (var name in MetricName().Matches(expr).Select(m => HistogramSuffix().Replace(m.Value, "")))
                Assert.True(exported.Contains(name), $"panel '{panel}' asks for {name}, which /metrics does not export");
            // As Grafana would send it with every variable at All; rate() needs two scrapes in its range.
            var promql = expr.Replace("$__rate_interval", "1m", StringComparison.Ordinal).Replace("$__range", "15m", StringComparison.Ordinal)
                .Replace("$client", ".*", StringComparison.Ordinal).Replace("$server", ".*", StringComparison.Ordinal).Replace("$host", ".*", StringComparison.Ordinal);
            await ClusterClient.WaitForAsync(() => _prometheus.QueryAsync(promql), r => r.Count > 0, $"a series for panel '{panel}': {promql}", Deadline);
        }

        // The variables' queries name labels the series have.
        foreach (var variable in dashboard.GetProperty("templating").GetProperty("list").EnumerateArray().Where(v => v.GetProperty("type").GetString() == "query"))
        {
            var match = LabelValues().Match(variable.GetProperty("definition").GetString()!);
            Assert.True(match.Success, variable.ToString());
            var selector = match.Groups[1].Value.Replace("$client", ".*", StringComparison.Ordinal);
            Assert.NotEmpty(await _prometheus.QueryAsync($"count by ({match.Groups[2].Value}) ({selector})"));
        }
    }

    private static (string Client, string Server) Ends(string edge) => (edge[..edge.LastIndexOf('>')], edge[(edge.LastIndexOf('>') + 1)..]);

    private async Task<double> SumAsync(string selector) => await _prometheus.ValueAsync($"sum({selector})") ?? 0;

    private async Task WaitAsync(string promql, Func<double, bool> condition, string what)
    {
        try
        {
            await ClusterClient.WaitForAsync(() => _prometheus.ValueAsync(promql), v => v is { } value && condition(value), what, Deadline);
        }
        catch (XunitException e)
        {
            throw new XunitException($"{e.Message}; {promql} = {await _prometheus.ValueAsync(promql)}\nPrometheus:\n{_prometheus.Output}", e);
        }
    }

    [GeneratedRegex(@"(?m)^# TYPE (\S+) ")]
    private static partial Regex TypeLine();

    [GeneratedRegex(@"flowmesh_[a-z0-9_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"_(bucket|count|sum)$")]
    private static partial Regex HistogramSuffix();

    [GeneratedRegex(@"^label_values\((.+), (\w+)\)$")]
    private static partial Regex LabelValues();
}
