using FlowMesh.Aggregator.Anomalies;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>Which anomalies a list or a stream asks for; null fields match everything.</summary>
internal sealed record AnomalyFilter(string? Edge, string? Host, string? Metric, string? Kind, long? Since, long? Until)
{
    public static readonly string[] Parameters = ["edge", "host", "metric", "anomalyKind"];

    public static AnomalyFilter Read(QueryReader q) => new(
        q.String("edge", 600), q.String("host"), q.OneOf("metric", [.. AnomalyMetrics.All.Select(m => m.Name())]), q.OneOf("anomalyKind", "session", "bucket"),
        null, null);

    public bool Matches(AnomalyView a) =>
        (Edge is null || a.Edge == Edge)
        && (Host is null || a.ClientHost == Host || a.ServerHost == Host)
        && (Metric is null || a.Metric == Metric)
        && (Kind is null || a.Kind == Kind)
        && (Since is not { } since || a.UnixMs >= since)
        && (Until is not { } until || a.UnixMs <= until);
}
