using Microsoft.Extensions.Configuration;

namespace FlowMesh.Aggregator.Metrics;

/// <summary>What <c>/metrics</c> exports per edge (section <c>Metrics</c>).</summary>
public sealed record MetricsSettings
{
    /// <summary>Edges with series of their own (about 90 each); sessions on later edges count under <c>other</c>.</summary>
    public int MaxEdges { get; init; } = 1000;

    public static MetricsSettings From(IConfiguration configuration)
    {
        var defaults = new MetricsSettings();
        var maxEdges = configuration.GetSection("Metrics").GetValue("MaxEdges", defaults.MaxEdges);
        if (maxEdges < 1)
            throw new ArgumentException($"Metrics:MaxEdges is {maxEdges}; it must be at least 1");
        return new MetricsSettings { MaxEdges = maxEdges };
    }
}
