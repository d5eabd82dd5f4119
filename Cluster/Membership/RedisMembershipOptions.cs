namespace FlowMesh.Cluster.Membership;

/// <summary>Timing of the Redis membership registry.</summary>
public sealed record RedisMembershipOptions
{
    /// <summary>
    /// How long a member stays in everyone's view after its last renewal. A crashed
    /// member disappears within this plus <see cref="PollInterval"/>.
    /// </summary>
    public TimeSpan MemberTtl { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>How often a member renews its lease (a quarter of the TTL by default).</summary>
    public TimeSpan? HeartbeatInterval { get; init; }

    /// <summary>How often every member and client reads the registry.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    internal TimeSpan ResolvedHeartbeat => HeartbeatInterval ?? TimeSpan.FromTicks(MemberTtl.Ticks / 4);
}
