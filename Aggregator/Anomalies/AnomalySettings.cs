using Microsoft.Extensions.Configuration;

namespace FlowMesh.Aggregator.Anomalies;

/// <summary>How anomalies are found and clustered (the <c>Anomalies</c> section).</summary>
public sealed record AnomalySettings
{
    public bool Enabled { get; init; } = true;

    /// <summary>How far above its edge's baseline a value is an anomaly, in standard deviations of log values.</summary>
    public double Sigmas { get; init; } = 3;

    /// <summary>Values an edge's metric learns from before it judges any (a 10 s bucket counts as one value).</summary>
    public int WarmUp { get; init; } = 20;

    /// <summary>How many recent values a baseline mostly reflects (the EWMA's span: α = 2 / (span + 1)).</summary>
    public int Span { get; init; } = 100;

    /// <summary>
    /// The least a latency must exceed its baseline by, in ms, to be an anomaly: a connect on a
    /// quiet LAN is 0.1 ms, and a busy host's scheduler adds a few ms now and then that no one
    /// would call a fault. Applies to connect and RTT; duration uses ten times as much.
    /// </summary>
    public double MinExcessMs { get; init; } = 10;

    /// <summary>The least a rate (retransmitted segments, resets) must exceed its baseline by, as a fraction.</summary>
    public double MinExcessRate { get; init; } = 0.01;

    /// <summary>Sessions a 10 s bucket of an edge needs for its rates to be judged.</summary>
    public int MinBucketSessions { get; init; } = 5;

    /// <summary>Edges with baselines at most; sessions on later ones are not judged, and counted (<c>anomaly_edges_shed</c>).</summary>
    public int MaxEdges { get; init; } = 10_000;

    /// <summary>How often the recent anomalous sessions are clustered.</summary>
    public TimeSpan ClusterInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How far back clustering looks.</summary>
    public TimeSpan ClusterWindow { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Session anomalies one clustering pass reads at most (the newest).</summary>
    public int MaxClustered { get; init; } = 5_000;

    /// <summary>DBSCAN's radius, in the feature space of <see cref="AnomalyFeatures"/>.</summary>
    public double ClusterRadius { get; init; } = 1.0;

    /// <summary>DBSCAN's minimum points: the fewest sessions a cluster has.</summary>
    public int ClusterMinSessions { get; init; } = 5;

    public static AnomalySettings From(IConfiguration configuration)
    {
        var s = configuration.GetSection("Anomalies");
        var d = new AnomalySettings();
        var settings = new AnomalySettings
        {
            Enabled = s.GetValue("Enabled", d.Enabled),
            Sigmas = s.GetValue("Sigmas", d.Sigmas),
            WarmUp = s.GetValue("WarmUp", d.WarmUp),
            Span = s.GetValue("Span", d.Span),
            MinExcessMs = s.GetValue("MinExcessMs", d.MinExcessMs),
            MinExcessRate = s.GetValue("MinExcessRate", d.MinExcessRate),
            MinBucketSessions = s.GetValue("MinBucketSessions", d.MinBucketSessions),
            MaxEdges = s.GetValue("MaxEdges", d.MaxEdges),
            ClusterInterval = TimeSpan.FromSeconds(s.GetValue("ClusterSeconds", d.ClusterInterval.TotalSeconds)),
            ClusterWindow = TimeSpan.FromSeconds(s.GetValue("ClusterWindowSeconds", d.ClusterWindow.TotalSeconds)),
            MaxClustered = s.GetValue("MaxClustered", d.MaxClustered),
            ClusterRadius = s.GetValue("ClusterRadius", d.ClusterRadius),
            ClusterMinSessions = s.GetValue("ClusterMinSessions", d.ClusterMinSessions),
        };
        return settings.Validated();
    }

    /// <summary>Refuses settings that cannot work, naming the one at fault.</summary>
    public AnomalySettings Validated()
    {
        static void Require(bool ok, string name, string rule)
        {
            if (!ok)
                throw new ArgumentException($"Anomalies:{name} {rule}");
        }
        Require(Sigmas > 0, "Sigmas", "must be greater than 0");
        Require(WarmUp >= 3, "WarmUp", "must be at least 3");
        Require(Span >= 2, "Span", "must be at least 2");
        Require(MinExcessMs >= 0, "MinExcessMs", "must not be negative");
        Require(MinExcessRate >= 0, "MinExcessRate", "must not be negative");
        Require(MinBucketSessions >= 1, "MinBucketSessions", "must be at least 1");
        Require(MaxEdges >= 1, "MaxEdges", "must be at least 1");
        Require(ClusterInterval > TimeSpan.Zero, "ClusterSeconds", "must be greater than 0");
        Require(ClusterWindow > TimeSpan.Zero, "ClusterWindowSeconds", "must be greater than 0");
        Require(MaxClustered >= 1, "MaxClustered", "must be at least 1");
        Require(ClusterRadius > 0, "ClusterRadius", "must be greater than 0");
        Require(ClusterMinSessions >= 1, "ClusterMinSessions", "must be at least 1");
        return this;
    }
}
