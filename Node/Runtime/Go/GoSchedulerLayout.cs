namespace FlowMesh.Node.Runtime.Go;

/// <summary>
/// What one uprobe at the entry of <c>runtime.execute(gp *g, inheritTime bool)</c> needs
/// to read Go's own scheduling-latency sampling and the run queues, on amd64: gp arrives
/// in RAX (Go's internal register ABI), the rest is found from the two globals below.
/// </summary>
/// <remarks>
/// Since Go 1.17, casgstatus marks 1 goroutine in 8 as tracked (<c>g.tracking</c>) and
/// stamps <c>g.runnableStamp = nanotime()</c> (CLOCK_MONOTONIC) when a tracked one becomes
/// runnable; at execute's entry, now minus that stamp is its runnable-to-running delay.
/// The runnable count is <c>sched.runqsize</c> plus, for each of <c>allp</c>,
/// <c>runqtail - runqhead</c> and 1 more when <c>runnext</c> is not 0.
/// Every member offset is a byte offset into its struct; sizes are Go's: tracking is a
/// bool, runnableStamp an int64, runqsize an int32, runqhead and runqtail uint32s,
/// runnext a guintptr (8 bytes).
/// </remarks>
/// <param name="ExecuteFileOffset">File offset of the first instruction of <c>runtime.execute</c>, as a uprobe takes it; 0 when the symbol is absent.</param>
/// <param name="GTracking">Offset of <c>tracking</c> in <c>runtime.g</c>.</param>
/// <param name="GRunnableStamp">Offset of <c>runnableStamp</c> in <c>runtime.g</c>.</param>
/// <param name="SchedRunqSize">Offset of <c>runqsize</c> (the global run queue's length) in <c>runtime.schedt</c>, the type of <c>runtime.sched</c>.</param>
/// <param name="PRunqHead">Offset of <c>runqhead</c> in <c>runtime.p</c>.</param>
/// <param name="PRunqTail">Offset of <c>runqtail</c> in <c>runtime.p</c>.</param>
/// <param name="PRunnext">Offset of <c>runnext</c> in <c>runtime.p</c>.</param>
/// <param name="SchedAddress">The symbol value of <c>runtime.sched</c> (a <c>schedt</c>); 0 when absent.</param>
/// <param name="AllpAddress">
/// The symbol value of <c>runtime.allp</c>, a <c>[]*p</c>: pointer, length, capacity (8 bytes each); 0 when absent.
/// </param>
/// <param name="PositionIndependent">
/// Whether the executable is ET_DYN (<c>-buildmode=pie</c>): the two addresses are then
/// link-time values, to which the process's load bias must be added (where the mapping of
/// the first PT_LOAD starts, minus that segment's p_vaddr rounded down to a page). When false
/// (ET_EXEC, Go's default) they are the addresses in the running process.
/// </param>
/// <param name="FirstLoadAddress">The first PT_LOAD segment's p_vaddr rounded down to a page: a PIE's mapping at file offset 0 starts at the load bias plus this.</param>
public sealed record GoSchedulerLayout(
    ulong ExecuteFileOffset,
    int GTracking,
    int GRunnableStamp,
    int SchedRunqSize,
    int PRunqHead,
    int PRunqTail,
    int PRunnext,
    ulong SchedAddress,
    ulong AllpAddress,
    bool PositionIndependent,
    ulong FirstLoadAddress);
