namespace FlowMesh.Contracts.Cluster;

/// <summary>Whether a figure only grows (a Prometheus counter) or goes up and down (a gauge).</summary>
public enum CounterKind
{
    Counter,
    Gauge,
}

/// <summary>
/// One figure a member publishes: its name (the same in the Redis status hash, in
/// <c>/api/cluster</c>, on <c>/metrics</c> and in log warnings), what it means, its kind,
/// and whether it counts something lost. A <paramref name="Family"/> and
/// <paramref name="Label"/> put several figures under one metric, e.g.
/// <c>sessions_total{join="tag"}</c>.
/// </summary>
public sealed record CounterSpec(string Name, string Help, CounterKind Kind = CounterKind.Counter, bool IsLoss = false, string? Family = null, string? Label = null)
{
    /// <summary>The Prometheus metric name under <paramref name="prefix"/> (<c>flowmesh_node_</c>, ...).</summary>
    public string MetricName(string prefix) => prefix + (Family ?? Name) + (Kind == CounterKind.Counter ? "_total" : "");

    /// <summary>The label as a name and a value (<c>join="tag"</c>: join, tag), or null without one.</summary>
    public (string Name, string Value)? LabelPair =>
        Label?.Split('=', 2) is [var name, var value] ? (name, value.Trim('"')) : null;
}
