namespace FlowMesh.Aggregator.Anomalies;

/// <summary>One edge's baselines (per session and per 10 s bucket) and the bucket being filled. Locked by its user.</summary>
internal sealed class EdgeAnomalyState(AnomalySettings settings)
{
    public const long BucketMs = 10_000;

    /// <summary>Per-session baselines, by <see cref="AnomalyMetric"/>.</summary>
    public RobustBaseline[] Sessions { get; } = [.. AnomalyMetrics.All.Select(_ => new RobustBaseline(settings.WarmUp, settings.Span))];

    /// <summary>Per-bucket baselines, by <see cref="AnomalyMetric"/> (only <see cref="AnomalyMetrics.OfBuckets"/> are used).</summary>
    public RobustBaseline[] Buckets { get; } = [.. AnomalyMetrics.All.Select(_ => new RobustBaseline(settings.WarmUp, settings.Span))];

    /// <summary>The start (Unix ms) of the bucket being filled; 0 before the first session.</summary>
    public long BucketStartMs { get; set; }

    public int BucketSessions { get; set; }
    public int BucketResets { get; set; }
    public long BucketRetransmitted { get; set; }
    public long BucketSegments { get; set; }
    public string ClientHost { get; set; } = "";
    public string ServerHost { get; set; } = "";

    public void StartBucket(long startMs)
    {
        BucketStartMs = startMs;
        BucketSessions = BucketResets = 0;
        BucketRetransmitted = BucketSegments = 0;
    }
}
