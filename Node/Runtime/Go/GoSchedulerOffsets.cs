namespace FlowMesh.Node.Runtime.Go;

/// <summary>
/// <see cref="GoSchedulerMembers"/> on amd64 by Go minor version, for binaries linked
/// without DWARF, on the terms of <see cref="GoidOffsets"/>: each entry read from the
/// DWARF of a binary of that release, and a release not listed is not guessed at (a wrong
/// offset would read another field and report made-up delays and queue lengths).
/// </summary>
internal static class GoSchedulerOffsets
{
    private static readonly Dictionary<int, GoSchedulerMembers> _amd64 = new()
    {
        // go1.19.8 (Debian bookworm's golang-1.19), the goserver workload's DWARF:
        // runtime.g 392 bytes, runtime.schedt 6080, runtime.p 8912. GoBinaryTests checks it.
        [19] = new(GTracking: 188, GRunnableStamp: 192, SchedRunqSize: 112, PRunqHead: 400, PRunqTail: 404, PRunnext: 2456),
    };

    /// <summary>The known offsets for a version string such as <c>go1.19.8</c>.</summary>
    public static bool TryGet(string goVersion, out GoSchedulerMembers members)
    {
        members = default;
        return GoidOffsets.TryParseMinor(goVersion, out var minor) && _amd64.TryGetValue(minor, out members);
    }
}
