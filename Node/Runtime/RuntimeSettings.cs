using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.Runtime;

/// <summary>Node:Runtime: what the Node measures of the processes behind its connections.</summary>
public sealed class RuntimeSettings
{
    /// <summary>Report accept() (the accept-queue wait and the accepting thread). Needs tracefs.</summary>
    public bool Accept { get; set; } = true;

    /// <summary>Time the run-queue waits of the processes that own traced sockets.</summary>
    public bool RunQueue { get; set; } = true;

    /// <summary>
    /// Attach a uprobe to the Go runtime (runtime.execute) of every Go process with traced
    /// sockets, to time goroutine scheduling. Off by default: a uprobe traps on every call,
    /// and this function runs at every goroutine switch (its cost is in BENCHMARKS.md).
    /// Goroutine ids on connections need no probe and are on whenever a Go binary is recognised.
    /// </summary>
    public bool Go { get; set; }

    /// <summary>Watch .NET processes' GC pauses and thread pool through their diagnostics port (EventPipe).</summary>
    public bool Dotnet { get; set; } = true;

    /// <summary>
    /// A closed flow of a watched .NET process waits at most this long (ms) for its runtime
    /// events to arrive before it is handed to its session (EventPipe delivers with a delay),
    /// so that the session knows the GC pauses it overlapped.
    /// </summary>
    public int DotnetMaxWaitMs { get; set; } = 2000;

    /// <summary>Processes watched at once (kernel histograms, Go processes, .NET watchers); more are counted, not watched.</summary>
    public uint MaxProcesses { get; set; } = 1024;

    /// <summary>Threads waiting in a run queue at once (kernel table).</summary>
    public uint MaxThreads { get; set; } = 16_384;

    public RuntimeCaptureOptions ToCaptureOptions() => new()
    {
        Accept = Accept,
        RunQueue = RunQueue,
        MaxProcesses = MaxProcesses,
        MaxThreads = MaxThreads,
    };
}
