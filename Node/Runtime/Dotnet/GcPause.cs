using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace FlowMesh.Node.Runtime.Dotnet;

/// <summary>
/// One suspension of a .NET process's managed threads (the execution engine), from
/// GCSuspendEEBegin to GCRestartEEEnd: the pause its threads, and so its connections, saw.
/// Times are the host's CLOCK_MONOTONIC in nanoseconds, the clock of the kernel's TCP events.
/// </summary>
/// <param name="StartMonoNs">GCSuspendEEBegin: the runtime began to stop its threads.</param>
/// <param name="EndMonoNs">GCRestartEEEnd: every thread may run again.</param>
/// <param name="SuspendReason">Why the runtime suspended: for a GC (or its preparation) mostly, but also for the debugger, a profiler or code patching; threads stop either way.</param>
/// <param name="Generation">The generation collected when a GC started inside this suspension; null for a suspension without one (a background GC's later suspensions, or not for a GC).</param>
/// <param name="Reason">Why that GC ran (allocation, induced, low memory...), when one started inside.</param>
public readonly record struct GcPause(
    ulong StartMonoNs,
    ulong EndMonoNs,
    GCSuspendEEReason SuspendReason,
    int? Generation,
    GCReason? Reason)
{
    public ulong DurationNs => EndMonoNs - StartMonoNs;

    /// <summary>Whether the suspension was for a garbage collection (rather than the debugger, a profiler...).</summary>
    public bool IsForGc => SuspendReason is GCSuspendEEReason.SuspendForGC or GCSuspendEEReason.SuspendForGCPrep;

    /// <summary>Nanoseconds this pause shares with [<paramref name="startMonoNs"/>, <paramref name="endMonoNs"/>).</summary>
    public ulong OverlapNs(ulong startMonoNs, ulong endMonoNs)
    {
        var from = Math.Max(StartMonoNs, startMonoNs);
        var to = Math.Min(EndMonoNs, endMonoNs);
        return to > from ? to - from : 0;
    }
}
