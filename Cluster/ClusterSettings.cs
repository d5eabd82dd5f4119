namespace FlowMesh.Cluster;

/// <summary>How a process joins the FlowMesh cluster.</summary>
public sealed record ClusterSettings
{
    /// <summary>Cluster name; also the Redis key prefix, so clusters can share a Redis.</summary>
    public string Name { get; init; } = "flowmesh";

    /// <summary>Redis endpoint (StackExchange.Redis syntax, e.g. <c>127.0.0.1:6379,password=...</c>).</summary>
    public string Redis { get; init; } = "127.0.0.1:6379";

    /// <summary>Address the actor remote listens on.</summary>
    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary>Port the actor remote listens on; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>Address other members use to reach this one (default: the bind address).</summary>
    public string? AdvertisedAddress { get; init; }

    /// <summary>A member that stops renewing its lease leaves every view within this (plus a poll).</summary>
    public TimeSpan MemberTtl { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>How long a request to a virtual actor may take before it fails.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
