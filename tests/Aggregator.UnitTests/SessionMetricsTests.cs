using System.Text;
using FlowMesh.Aggregator.Metrics;
using FlowMesh.Aggregator.Sessions;
using FlowMesh.Contracts.Messages;
using Prometheus;

namespace FlowMesh.Aggregator.UnitTests;

/// <summary>What the service map's Prometheus series count, read back from the exposition text prometheus-net writes.</summary>
public sealed class SessionMetricsTests
{
    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();

    private SessionMetrics Make(int maxEdges = 10) => new(Prometheus.Metrics.WithCustomRegistry(_registry), new MetricsSettings { MaxEdges = maxEdges });

    private static SessionView Session(string client, double connectMs, CloseReason close = CloseReason.Normal, string reset = "none", bool established = true) => new()
    {
        Join = JoinMethod.Tag,
        Client = new SessionSide { HostId = "host-a", CloseReason = close, EstablishedUnixNs = established ? 1 : 0 },
        Server = new SessionSide { HostId = "host-b" },
        ClientWorkload = client,
        ServerEndpoint = "10.0.0.2:80",
        ConnectMs = connectMs,
        ClientDurationMs = 10,
        Reset = reset,
        BytesClientToServer = 300,
        BytesServerToClient = 4000,
    };

    private string Text()
    {
        using var stream = new MemoryStream();
        _registry.CollectAndExportAsTextAsync(stream, ExpositionFormat.PrometheusText).GetAwaiter().GetResult();
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private double Sample(string series) =>
        Text().Split('\n').Where(l => l.StartsWith(series + " ", StringComparison.Ordinal)).Select(l => double.Parse(l[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture))
            .DefaultIfEmpty(double.NaN).Single();

    [Fact]
    public void A_session_is_counted_once_per_edge_and_host_and_a_resettle_adds_only_the_values_it_lacked()
    {
        var metrics = Make();
        var first = Session("curl", 0.2, established: false);
        metrics.Settled(new SettledSession(first, Edges.Of(first)));
        var later = Session("curl", 0.2);
        metrics.Settled(new SettledSession(later, Edges.Of(later), first, Edges.Of(first)));

        const string edge = "client=\"curl\",server=\"10.0.0.2:80\"";
        Assert.Equal(1, Sample($"flowmesh_edge_sessions_total{{{edge}}}"));
        Assert.Equal(300, Sample($"flowmesh_edge_bytes_total{{{edge},direction=\"client_to_server\"}}"));
        Assert.Equal(4000, Sample($"flowmesh_edge_bytes_total{{{edge},direction=\"server_to_client\"}}"));
        Assert.Equal(1, Sample("flowmesh_host_sessions_total{host=\"host-a\",side=\"client\"}"));
        Assert.Equal(1, Sample("flowmesh_host_sessions_total{host=\"host-b\",side=\"server\"}"));
        // The connect time came with the second view, the duration with the first: each once.
        Assert.Equal(1, Sample($"flowmesh_edge_connect_seconds_count{{{edge}}}"));
        Assert.Equal(1, Sample($"flowmesh_edge_connect_seconds_bucket{{{edge},le=\"0.00025\"}}"));
        Assert.Equal(0, Sample($"flowmesh_edge_connect_seconds_bucket{{{edge},le=\"0.0001\"}}"));
        Assert.Equal(1, Sample($"flowmesh_edge_duration_seconds_count{{{edge}}}"));
        Assert.Equal(1, Sample("flowmesh_host_connect_seconds_count{host=\"host-a\"}"));
    }

    [Fact]
    public void Errors_are_counted_by_kind_and_a_refused_connect_is_refused_not_reset()
    {
        var metrics = Make();
        foreach (var s in new[] { Session("a", 1, CloseReason.Refused, "server", established: false), Session("a", 1, reset: "client"), Session("a", 1) })
            metrics.Settled(new SettledSession(s, Edges.Of(s)));
        const string edge = "client=\"a\",server=\"10.0.0.2:80\"";
        Assert.Equal(1, Sample($"flowmesh_edge_errors_total{{{edge},kind=\"refused\"}}"));
        Assert.Equal(1, Sample($"flowmesh_edge_errors_total{{{edge},kind=\"reset_by_client\"}}"));
        Assert.True(double.IsNaN(Sample($"flowmesh_edge_errors_total{{{edge},kind=\"reset_by_server\"}}")));
        Assert.Equal(1, Sample("flowmesh_host_errors_total{host=\"host-b\",side=\"server\",kind=\"refused\"}"));
    }

    [Fact]
    public void Edges_past_Metrics_MaxEdges_are_counted_under_other_and_the_folds_counted()
    {
        var metrics = Make(maxEdges: 1);
        foreach (var client in new[] { "a", "b", "c", "a" })
        {
            var s = Session(client, 1);
            metrics.Settled(new SettledSession(s, Edges.Of(s)));
        }
        Assert.Equal(2, Sample("flowmesh_edge_sessions_total{client=\"a\",server=\"10.0.0.2:80\"}"));
        Assert.Equal(2, Sample("flowmesh_edge_sessions_total{client=\"other\",server=\"other\"}"));
        Assert.Equal((1, 2L), (metrics.AdmittedEdges, metrics.Folded));
    }
}
