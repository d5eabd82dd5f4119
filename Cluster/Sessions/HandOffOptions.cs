namespace FlowMesh.Cluster.Sessions;

/// <summary>How a Node hands flows to the Aggregators and makes sure closed ones arrive (the <c>HandOff</c> settings).</summary>
public sealed record HandOffOptions
{
    /// <summary>An Aggregator that has not acknowledged a batch by then failed the delivery (and is passed over for <see cref="SuspectFor"/>).</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A closed flow whose session no Aggregator has confirmed stored by then is sent again.
    /// Longer than the longest an Aggregator may hold a side before storing it: two join
    /// windows (a side known only by its tuple looks for its peer after them).
    /// </summary>
    public TimeSpan ResendAfter { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How many times a closed flow is sent again before it is counted as undelivered.</summary>
    public int MaxResends { get; init; } = 3;

    /// <summary>Closed flows kept for a resend at most; past it a flow is still handed over, not kept (counted as untracked).</summary>
    public int MaxUnconfirmed { get; init; } = 200_000;

    /// <summary>How long an Aggregator that failed a delivery is passed over while it stays registered.</summary>
    public TimeSpan SuspectFor { get; init; } = TimeSpan.FromSeconds(10);
}
