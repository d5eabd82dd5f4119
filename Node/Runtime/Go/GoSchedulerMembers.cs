namespace FlowMesh.Node.Runtime.Go;

/// <summary>
/// The member offsets of a <see cref="GoSchedulerLayout"/>: what a release's struct
/// layout decides, as opposed to where a given binary put its code and data.
/// </summary>
internal readonly record struct GoSchedulerMembers(int GTracking, int GRunnableStamp, int SchedRunqSize, int PRunqHead, int PRunqTail, int PRunnext)
{
    public const string G = "runtime.g";
    public const string Schedt = "runtime.schedt";
    public const string P = "runtime.p";

    public static readonly DwarfMember Tracking = new(G, "tracking");
    public static readonly DwarfMember RunnableStamp = new(G, "runnableStamp");
    public static readonly DwarfMember RunqSize = new(Schedt, "runqsize");
    public static readonly DwarfMember RunqHead = new(P, "runqhead");
    public static readonly DwarfMember RunqTail = new(P, "runqtail");
    public static readonly DwarfMember Runnext = new(P, "runnext");

    /// <summary>The members to ask the DWARF for, in the order of the record's fields.</summary>
    public static IReadOnlyList<DwarfMember> Dwarf { get; } = [Tracking, RunnableStamp, RunqSize, RunqHead, RunqTail, Runnext];

    /// <summary>The offsets when the DWARF had every one (Go 1.17 and later); null when it lacks any.</summary>
    public static GoSchedulerMembers? From(IReadOnlyDictionary<DwarfMember, int> offsets) =>
        offsets.TryGetValue(Tracking, out var tracking)
        && offsets.TryGetValue(RunnableStamp, out var stamp)
        && offsets.TryGetValue(RunqSize, out var runqSize)
        && offsets.TryGetValue(RunqHead, out var head)
        && offsets.TryGetValue(RunqTail, out var tail)
        && offsets.TryGetValue(Runnext, out var runnext)
            ? new GoSchedulerMembers(tracking, stamp, runqSize, head, tail, runnext)
            : null;
}
