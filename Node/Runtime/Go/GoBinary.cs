namespace FlowMesh.Node.Runtime.Go;

/// <summary>
/// What the Node needs to trace one Go executable: its toolchain, where the goroutine id
/// lives in the runtime's <c>g</c> (which the BPF program reaches through R14, the g
/// register of Go's internal ABI on amd64), and where in the file to attach uprobes.
/// </summary>
/// <param name="Path">The executable as it was opened.</param>
/// <param name="GoVersion">The toolchain that built it, as <c>go version</c> prints it (e.g. <c>go1.19.8</c>).</param>
/// <param name="Arch">Go's name for the architecture; only <c>amd64</c> is read today.</param>
/// <param name="GoidOffset">Byte offset of <c>goid</c> (an int64) inside <c>runtime.g</c>.</param>
/// <param name="GoidOffsetSource">
/// Whether that offset, and <paramref name="Scheduler"/>'s member offsets, came from the
/// binary's DWARF or from the tables of known releases.
/// </param>
/// <param name="CasgstatusFileOffset">
/// File offset of the first instruction of <c>runtime.casgstatus</c>, as a uprobe takes it.
/// Never 0: a binary without that function is not returned.
/// </param>
/// <param name="Newproc1FileOffset">The same for <c>runtime.newproc1</c> (goroutine creation), 0 if absent.</param>
/// <param name="Goexit1FileOffset">The same for <c>runtime.goexit1</c> (goroutine end), 0 if absent.</param>
/// <param name="Scheduler">
/// What a uprobe on <c>runtime.execute</c> needs to read scheduling delays and run-queue
/// lengths; null when the member offsets are not known: DWARF without them (Go before
/// 1.17, or a later release that renamed one), or no DWARF and no table entry.
/// </param>
public sealed record GoBinary(
    string Path,
    string GoVersion,
    string Arch,
    int GoidOffset,
    GoidOffsetSource GoidOffsetSource,
    ulong CasgstatusFileOffset,
    ulong Newproc1FileOffset,
    ulong Goexit1FileOffset,
    GoSchedulerLayout? Scheduler);
