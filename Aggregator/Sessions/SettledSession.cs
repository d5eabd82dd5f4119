using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// A session as it settles, with what a subscriber needs to take each value once: the
/// view settled before (a side's late events, or a late side, settle a session again) and
/// the edges both were counted under (<see cref="EdgeCap"/>).
/// </summary>
/// <param name="View">The session as it is now.</param>
/// <param name="Edge">The edge it counts under: its own, or <see cref="EdgeCap.Other"/>.</param>
/// <param name="Previous">The view settled before, or null the first time.</param>
/// <param name="PreviousEdge">The edge <paramref name="Previous"/> counted under.</param>
public readonly record struct SettledSession(SessionView View, string Edge, SessionView? Previous = null, string? PreviousEdge = null)
{
    /// <summary>Settled for the first time: counted once per connection, however its sides arrive.</summary>
    public bool First => Previous is null;

    /// <summary>A late side turned a one-sided session into a joined one.</summary>
    public bool LateJoin => Previous is { Join: JoinMethod.OneSided } && View.Join != JoinMethod.OneSided;

    /// <summary>Worth telling outside (stream, export, anomalies): the first settle, and a late join; not a side told again.</summary>
    public bool IsNews => First || LateJoin;
}
