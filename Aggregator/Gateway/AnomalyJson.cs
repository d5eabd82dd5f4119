using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>An anomaly as the API gives it: <c>value</c> and <c>baseline</c> in ms, or as a fraction for the rates.</summary>
public sealed record AnomalyJson(
    string Id, string Kind, string Metric, string Edge, string ClientHost, string ServerHost, string? SessionId, long UnixMs,
    double Value, double Baseline, double Sigmas, string Reason, uint? BucketSessions, ulong? Bytes, bool? Reset, string Aggregator)
{
    public static AnomalyJson From(AnomalyView a) => new(
        a.Id, a.Kind, a.Metric, a.Edge, a.ClientHost, a.ServerHost, a.SessionId.Length == 0 ? null : a.SessionId, a.UnixMs,
        a.Value, a.Baseline, a.Sigmas, a.Reason, a.Kind == "bucket" ? a.BucketSessions : null,
        a.Kind == "session" ? a.Bytes : null, a.Kind == "session" ? a.Reset : null, a.Aggregator);
}

public sealed record AnomalyClusterJson(
    int Id, int Size, string Summary, string? ClientHost, string? ServerHost, IReadOnlyList<string> Edges, IReadOnlyList<string> Metrics,
    long FirstUnixMs, long LastUnixMs, IReadOnlyList<string> SessionIds)
{
    public static AnomalyClusterJson From(AnomalyCluster c) => new(
        c.Id, c.Size, c.Summary, c.ClientHost.Length == 0 ? null : c.ClientHost, c.ServerHost.Length == 0 ? null : c.ServerHost,
        [.. c.Edges], [.. c.Metrics], c.FirstUnixMs, c.LastUnixMs, [.. c.SessionIds]);
}

/// <summary>
/// The latest clustering pass: <c>computedUnixMs</c> is when it ran (0 when none has run
/// lately: no Aggregator, or anomalies off), over the session anomalies of the last
/// <c>windowSeconds</c>; <c>noise</c> counts the sessions in no cluster.
/// </summary>
public sealed record AnomalyClustersJson(long ComputedUnixMs, int WindowSeconds, int Anomalies, int Sessions, int Noise,
    IReadOnlyList<AnomalyClusterJson> Clusters, string? Aggregator)
{
    public static AnomalyClustersJson From(AnomalyClusters? c) => c is null
        ? new(0, 0, 0, 0, 0, [], null)
        : new(c.ComputedUnixMs, c.WindowSeconds, c.Anomalies, c.Sessions, c.Noise, [.. c.Clusters.Select(AnomalyClusterJson.From)], c.Aggregator);
}
