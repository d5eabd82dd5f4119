using Prometheus;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>Request counts and latency per route and status, as a Prometheus histogram.</summary>
internal sealed class GatewayMetrics(IMetricFactory metrics)
{
    private readonly Histogram _requests = metrics.CreateHistogram("flowmesh_gateway_request_duration_seconds", "Gateway requests by route and status.",
        ["route", "status"], new HistogramConfiguration { Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });

    public void Observe(string route, int status, double seconds) =>
        _requests.WithLabels(route, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Observe(seconds);
}
