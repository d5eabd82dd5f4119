namespace FlowMesh.Aggregator.Latency;

/// <summary>What a latency series measures.</summary>
public enum LatencyMetric
{
    /// <summary>The client's connect(): SYN sent to established.</summary>
    Connect,

    /// <summary>A connection's life: opened to closed.</summary>
    Duration,

    /// <summary>The kernel's smoothed round-trip time at the connection's last state change.</summary>
    Rtt,

    /// <summary>A process's run-queue delay (written by Nodes, scope <c>proc:</c>).</summary>
    RunQueue,

    /// <summary>A Go process's goroutine scheduling delay (written by Nodes, scope <c>proc:</c>).</summary>
    GoSchedule,

    /// <summary>A .NET process's GC pauses (written by Nodes, scope <c>proc:</c>).</summary>
    GcPause,
}
