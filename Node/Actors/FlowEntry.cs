using FlowMesh.Node.Flows;

namespace FlowMesh.Node.Actors;

/// <summary>
/// A flow's slot in its shard's table: the connection's state and what the shard needs
/// to look after it. A struct in one array per shard, so a live flow costs its state
/// object and this slot, with no actor, mailbox or timer of its own.
/// </summary>
internal struct FlowEntry
{
    public FlowState State;

    /// <summary>Environment.TickCount64 of the last event applied (or restore, or query that brought it in).</summary>
    public long LastActivityMs;

    /// <summary>Environment.TickCount64 when it last reported to its session while open.</summary>
    public long LastReportMs;

    /// <summary>The etag of its saved state in Redis, if it was ever passivated (compare-and-set on the next save).</summary>
    public string? Etag;

    /// <summary>The host's kernel drop counter when the flow was first seen: a rise by its close means it may have lost events.</summary>
    public long DropsAtStart;

    /// <summary>Reordered + duplicate + unexpected events already counted for the Node.</summary>
    public uint AnomaliesReported;

    /// <summary>The release round that last touched it, and whether it was closed when that round began.</summary>
    public int Round;
    public bool ClosedAtRoundStart;

    /// <summary>Changed since it was last saved.</summary>
    public bool Unsaved;

    /// <summary>A save to Redis is under way (passivation).</summary>
    public bool Saving;

    /// <summary>
    /// Closed, and its hand-off waits for its process's runtime events (a .NET process's GC
    /// pauses arrive late) until they cover its close or until this Environment.TickCount64; 0: not waiting.
    /// </summary>
    public long HandOverByMs;
}
