namespace FlowMesh.Node.Actors;

/// <summary>Flow lifecycle settings.</summary>
public sealed record FlowOptions
{
    /// <summary>An open flow reports its view for its session this often (long-lived connections).</summary>
    public TimeSpan SessionReport { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A closed flow stays in its shard this long (for events just behind its close), then
    /// leaves memory; queries are answered from its record in Redis. Short on purpose:
    /// at a busy host's connection rate every second of linger is thousands of flows that
    /// outlive the young GC generation.
    /// </summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>An open flow with no event for this long saves its state to Redis and passivates.</summary>
    public TimeSpan Idle { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The longest a flow waits for a CPU whose reader has stalled before applying (and
    /// handing over) events without it; each such event is counted (<c>horizon_expired</c>).
    /// </summary>
    public TimeSpan OrderingWait { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The most flows the Node follows at once (open ones, closed ones lingering, restores
    /// under way); a new flow beyond it is shed and counted (<c>flows_shed</c>), and so are
    /// its events, so a connection storm costs counts, not memory. The default comes from
    /// the memory the process may use (see <c>SettingsBinding.DefaultMaxLive</c>).
    /// </summary>
    public long MaxLive { get; init; } = 1_000_000;

    /// <summary>Saved state of a passivated open flow is kept this long.</summary>
    public TimeSpan OpenStateTtl { get; init; } = TimeSpan.FromDays(7);
}
