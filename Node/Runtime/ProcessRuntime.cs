using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Messages;

using FlowMesh.Node.Runtime.Go;

namespace FlowMesh.Node.Runtime;

/// <summary>
/// What the Node knows of one process that owns traced sockets: its run-queue delays (and
/// a Go process's scheduling delays) second by second, and its runtime (Go, .NET). Read by
/// the flow shards at hand-off, written by the <see cref="RuntimeMonitor"/>; one lock.
/// </summary>
internal sealed partial class ProcessRuntime(uint tgid, string comm)
{
    private readonly Lock _lock = new();
    private readonly HistogramSlices _runQueue = new();
    private readonly HistogramSlices _goSchedule = new();
    private long _runnableGoroutines;

    public uint Tgid { get; } = tgid;
    public string Comm { get; } = comm;

    /// <summary>go | dotnet | "" (not known, or neither).</summary>
    public string Kind { get; set; } = "";

    /// <summary>The Go binary, once inspected (null: not Go, or not yet).</summary>
    public GoBinary? Go { get; set; }

    /// <summary>Go: its runtime.execute probe is attached, so goroutine scheduling is timed.</summary>
    public bool GoScheduleTraced { get; set; }

    /// <summary>Why something is not measured for this process (shown with it), or null.</summary>
    public string? Note { get; set; }


    public long RunnableGoroutines => Interlocked.Read(ref _runnableGoroutines);

    public ulong RunQueueTotal
    {
        get { lock (_lock) return _runQueue.TotalCount; }
    }

    public void AddRunQueue(in RuntimeHistogramRecord cumulative, ulong nowNs, Contracts.Latency.LatencySketch? sketch)
    {
        lock (_lock)
            _runQueue.Add(cumulative, nowNs, sketch);
    }

    public void AddGoSchedule(in RuntimeHistogramRecord cumulative, ulong nowNs, Contracts.Latency.LatencySketch? sketch)
    {
        lock (_lock)
            _goSchedule.Add(cumulative, nowNs, sketch);
        Interlocked.Exchange(ref _runnableGoroutines, Math.Max(0, cumulative.Runnable));
    }

    /// <summary>When its kernel histograms were last read (by the monitor, or for a flow's hand-off).</summary>
    public ulong ReadNs
    {
        get => Interlocked.Read(ref _readNs);
        set => Interlocked.Exchange(ref _readNs, value);
    }

    private ulong _readNs;

    /// <summary>Adds this process's figures over [startNs, endNs] to a flow's runtime view.</summary>
    public void Describe(FlowRuntime runtime, ulong startNs, ulong endNs)
    {
        runtime.Runtime = Kind;
        lock (_lock)
        {
            (runtime.RunQueueP99Us, runtime.RunQueueSamples) = _runQueue.Summarize(startNs, endNs);
            if (GoScheduleTraced)
                (runtime.GoScheduleP99Us, runtime.GoScheduleSamples) = _goSchedule.Summarize(startNs, endNs);
        }
        if (GoScheduleTraced)
            runtime.RunnableGoroutines = RunnableGoroutines;
        DescribeGc(runtime, startNs, endNs);
    }
}
