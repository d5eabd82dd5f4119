namespace FlowMesh.Aggregator.Sessions;

public sealed record SessionOptions
{
    /// <summary>How long a session with one closed side waits for the other before it is settled as one-sided.</summary>
    public TimeSpan JoinWindow { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long a settled session stays in memory, for a side's trailing events (a reset
    /// just behind its close); queries after that are answered from Redis (it keeps the
    /// session for <see cref="Ttl"/>). Short on purpose: sessions that live for seconds
    /// outlast the young GC generations and made the Aggregator's pauses long (measured
    /// with `bench`: P99 150 ms at 2 s, 60 ms at 0.5 s, 10k sessions/s).
    /// </summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>A session whose sides are open and silent this long leaves memory (it comes back with the next report).</summary>
    public TimeSpan Idle { get; init; } = TimeSpan.FromMinutes(3);

    public TimeSpan Ttl { get; init; } = TimeSpan.FromHours(24);

    /// <summary>
    /// Sessions held in memory at most (waiting for a side, lingering, open); a new one past
    /// it is shed: its flows' records are stored, the session is not, and it is counted
    /// (<c>sessions_shed</c>). The default comes from the memory the process may use.
    /// </summary>
    public long MaxInMemory { get; init; } = 1_000_000;

    /// <summary>
    /// Flows one session takes at most: a connection has two sides, and a few more under one
    /// key are tuple reuse; thousands are a copied trace tag. Past it a flow is counted
    /// (<c>flows_over_session_cap</c>) and left out, so one key cannot make every join slower.
    /// </summary>
    public int MaxFlowsPerSession { get; init; } = 16;

    /// <summary>Sessions, and closed flows, their indexes list at most (the newest); see <c>IndexedRecordWriter</c>.</summary>
    public long MaxIndexed { get; init; } = 1_000_000;

    /// <summary>Edges with series of their own (tag survival, latency); sessions on later ones are counted under <c>other&gt;other</c>.</summary>
    public int MaxEdges { get; init; } = 10_000;

    /// <summary>A quarter of the memory the process may use, at 4 KiB a session (two views and the settled view), within 10,000 and 1,000,000.</summary>
    public static long DefaultMaxInMemory(long availableBytes) => Math.Clamp(availableBytes / 4 / 4096, 10_000, 1_000_000);
}
