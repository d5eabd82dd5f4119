using FlowMesh.Contracts.Messages;

using FlowMesh.Node.Runtime.Dotnet;

namespace FlowMesh.Node.Runtime;

/// <summary>.NET processes: GC pauses from the runtime's diagnostics port (EventPipe).</summary>
internal sealed partial class ProcessRuntime
{
    private long _gcPauses;
    private long _gcPauseNs;

    /// <summary>The EventPipe watcher, once attached and watching.</summary>
    public DotnetRuntimeWatcher? Dotnet { get; set; }

    /// <summary>Kernel time the watcher began watching: pauses before it are unknown.</summary>
    public ulong DotnetSinceNs { get; set; }

    /// <summary>Pauses up to this time (CLOCK_MONOTONIC) are in the series already.</summary>
    public ulong GcCollectedUntilNs { get; set; }

    public long GcPauses => Interlocked.Read(ref _gcPauses);
    public double GcPauseMs => Interlocked.Read(ref _gcPauseNs) / 1e6;

    public void CountGcPause(GcPause pause)
    {
        Interlocked.Increment(ref _gcPauses);
        Interlocked.Add(ref _gcPauseNs, (long)pause.DurationNs);
    }

    /// <summary>A flow's GC pauses: only when the watcher saw the whole flow and its events have arrived past the flow's end.</summary>
    private void DescribeGc(FlowRuntime runtime, ulong startNs, ulong endNs)
    {
        if (Dotnet is not { Status: DotnetWatcherStatus.Watching or DotnetWatcherStatus.Ended } watcher || DotnetSinceNs == 0 || DotnetSinceNs > startNs || !watcher.Covers(endNs))
            return;
        // GC suspensions only: the runtime also suspends its threads to patch code (tiering) or for a debugger.
        uint count = 0;
        ulong overlapNs = 0;
        foreach (var pause in watcher.PausesBetween(startNs, endNs))
        {
            if (!pause.IsForGc)
                continue;
            count++;
            overlapNs += pause.OverlapNs(startNs, endNs);
        }
        runtime.GcWatched = true;
        runtime.GcPauses = count;
        runtime.GcPauseOverlapUs = overlapNs / 1000;
    }

    /// <summary>Its GC events have not yet arrived up to <paramref name="ns"/>: a flow closing then should wait for them.</summary>
    public bool GcEventsBehind(ulong ns) => Dotnet is { Status: DotnetWatcherStatus.Watching } watcher && DotnetSinceNs <= ns && !watcher.Covers(ns);
}
