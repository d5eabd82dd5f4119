using FlowMesh.Contracts.Latency;
using FlowMesh.Contracts.Messages;
using FlowMesh.Node.Kernel;
using Microsoft.Extensions.Logging;

using FlowMesh.Node.Runtime.Dotnet;

namespace FlowMesh.Node.Runtime;

/// <summary>.NET processes: watched through their diagnostics port (EventPipe) for GC pauses and thread-pool queueing.</summary>
internal sealed partial class RuntimeMonitor
{
    private readonly DotnetWatcherSettings _dotnetSettings = new();
    private long _dotnetEventsLost;

    /// <summary>GC events the watchers lost (EventPipe's own losses, and pauses shed from a full ring), those that stopped included.</summary>
    public long DotnetEventsLost
    {
        get
        {
            var total = Interlocked.Read(ref _dotnetEventsLost);
            foreach (var process in _processes.Values)
            {
                if (process.Dotnet is { } watcher)
                    total += watcher.Counters.EventsLost + watcher.Counters.PausesShed;
            }
            return total;
        }
    }

    /// <summary>
    /// A .NET process (its diagnostics socket is there) is watched from a task of its own:
    /// attaching can take seconds, and the monitor's pass must not wait for it.
    /// </summary>
    private Task InspectDotnetAsync(ProcessRuntime process)
    {
        if (!settings.Dotnet || process.Kind == "go")
            return Task.CompletedTask;
        var probe = DotnetProcessProbe.Probe((int)process.Tgid);
        switch (probe.Status)
        {
            case DotnetProbeStatus.Attachable:
                process.Kind = "dotnet";
                _ = Task.Run(() => AttachDotnetAsync(process));
                break;
            case DotnetProbeStatus.DiagnosticsDisabled or DotnetProbeStatus.NoSocket:
                process.Kind = "dotnet";
                process.Note = probe.Detail;
                break;
        }
        return Task.CompletedTask;
    }

    private async Task AttachDotnetAsync(ProcessRuntime process)
    {
        try
        {
            var watcher = await DotnetRuntimeWatcher.AttachAsync((int)process.Tgid, _dotnetSettings, logger, _stop.Token).ConfigureAwait(false);
            if (watcher.Status != DotnetWatcherStatus.Watching || !_processes.ContainsKey(process.Tgid))
            {
                process.Note = watcher.Detail;
                await watcher.DisposeAsync().ConfigureAwait(false);
                return;
            }
            process.GcCollectedUntilNs = process.DotnetSinceNs = (ulong)MonotonicClock.NowNs();
            process.Dotnet = watcher;
            logger.LogInformation(".NET process {Pid} ({Comm}): GC pauses and the thread pool are watched through its diagnostics port", process.Tgid, process.Comm);
        }
        catch (OperationCanceledException)
        {
            // the Node is stopping
        }
    }

    /// <summary>The pauses that arrived since the last pass go to the process's GC series (durations, in microseconds).</summary>
    private void CollectGcPauses(ProcessRuntime process, long unixMs)
    {
        if (process.Dotnet is not { Status: DotnetWatcherStatus.Watching } watcher)
            return;
        var until = watcher.HorizonMonoNs;
        if (until <= process.GcCollectedUntilNs)
            return;
        LatencySketch? sketch = null;
        foreach (var pause in watcher.PausesBetween(process.GcCollectedUntilNs, until))
        {
            if (!pause.IsForGc || pause.EndMonoNs <= process.GcCollectedUntilNs || pause.EndMonoNs > until)
                continue; // counted before, or not finished by the horizon: the next pass has it
            sketch ??= _sketches.For(RuntimeSeries.Process(hostId, process.Comm), RuntimeSeries.GcPause, unixMs);
            sketch.Add(pause.DurationNs / 1000.0);
            process.CountGcPause(pause);
        }
        process.GcCollectedUntilNs = until;
    }

    private static void DescribeDotnet(ProcessRuntime process, ProcessRuntimeView view)
    {
        if (process.Kind != "dotnet")
            return;
        view.GcPauses = (ulong)process.GcPauses;
        view.GcPauseMs = Math.Round(process.GcPauseMs, 3);
        if (process.Dotnet is { } watcher)
        {
            view.ThreadPoolQueue = watcher.ThreadPoolQueueLength ?? 0;
            if (watcher.Status != DotnetWatcherStatus.Watching)
                view.Note = watcher.Detail;
        }
    }

    private async ValueTask DisposeDotnetAsync(ProcessRuntime process)
    {
        if (process.Dotnet is not { } watcher)
            return;
        process.Dotnet = null;
        Interlocked.Add(ref _dotnetEventsLost, watcher.Counters.EventsLost + watcher.Counters.PausesShed);
        await watcher.DisposeAsync().ConfigureAwait(false);
    }
}
