using FlowMesh.Aggregator.Anomalies;
using FlowMesh.Aggregator.Gateway;
using FlowMesh.Aggregator.Metrics;
using FlowMesh.Aggregator.Sessions;
using FlowMesh.Kubernetes;
using Microsoft.Extensions.Configuration;

namespace FlowMesh.Aggregator.Hosting;

/// <summary>The Aggregator's settings beyond the cluster: session timing, OTLP export, the gateway and anomalies.</summary>
public sealed record AggregatorSettings(SessionOptions Sessions, Uri? OtlpEndpoint, string ServiceName, GatewaySettings Gateway, AnomalySettings Anomalies)
{
    /// <summary>Where the Kubernetes API is, to name ends outside the fleet by who owned their address (section Kubernetes).</summary>
    public KubernetesSettings Kubernetes { get; init; } = new();

    /// <summary>What /metrics exports per edge (section Metrics).</summary>
    public MetricsSettings Metrics { get; init; } = new();

    public static AggregatorSettings From(IConfiguration configuration)
    {
        var s = configuration.GetSection("Sessions");
        var defaults = new SessionOptions();
        var sessions = new SessionOptions
        {
            JoinWindow = TimeSpan.FromSeconds(s.GetValue("JoinWindowSeconds", defaults.JoinWindow.TotalSeconds)),
            Linger = TimeSpan.FromSeconds(s.GetValue("LingerSeconds", defaults.Linger.TotalSeconds)),
            Idle = TimeSpan.FromSeconds(s.GetValue("IdleSeconds", defaults.Idle.TotalSeconds)),
            Ttl = TimeSpan.FromHours(s.GetValue("TtlHours", defaults.Ttl.TotalHours)),
            MaxInMemory = s.GetValue("MaxInMemory", SessionOptions.DefaultMaxInMemory(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)),
            MaxFlowsPerSession = s.GetValue("MaxFlowsPerSession", defaults.MaxFlowsPerSession),
            MaxEdges = s.GetValue("MaxEdges", defaults.MaxEdges),
            MaxIndexed = s.GetValue("MaxIndexed", defaults.MaxIndexed),
        };
        var endpoint = configuration["Otlp:Endpoint"];
        return new AggregatorSettings(sessions,
            string.IsNullOrWhiteSpace(endpoint) ? null : TracesEndpoint(endpoint),
            configuration["Otlp:ServiceName"] is { Length: > 0 } name ? name : "flowmesh",
            GatewaySettings.From(configuration), AnomalySettings.From(configuration))
        {
            Kubernetes = configuration.GetSection("Kubernetes").Get<KubernetesSettings>() ?? new(),
            Metrics = MetricsSettings.From(configuration),
        };
    }

    /// <summary>
    /// The traces URL for an endpoint given as a collector's base address
    /// (http://collector:4318, as OTEL_EXPORTER_OTLP_ENDPOINT is written) or in full.
    /// </summary>
    public static Uri TracesEndpoint(string endpoint)
    {
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"Otlp:Endpoint '{endpoint}' is not an http(s) URL (e.g. http://collector:4318)");
        return uri.AbsolutePath is "" or "/" ? new Uri(uri, "v1/traces") : uri;
    }
}
