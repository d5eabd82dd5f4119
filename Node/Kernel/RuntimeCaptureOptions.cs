namespace FlowMesh.Node.Kernel;

/// <summary>What the kernel programs measure of the processes behind the connections, and the bounds of their tables.</summary>
public sealed record RuntimeCaptureOptions
{
    /// <summary>
    /// Report accept() (the accepting task and the end of the accept-queue wait) through
    /// the syscall tracepoints. They need tracefs; the Node mounts it where it is missing.
    /// </summary>
    public bool Accept { get; init; } = true;

    /// <summary>Time the run-queue waits of the threads of every process that owns a traced socket (scheduler tracepoints).</summary>
    public bool RunQueue { get; init; } = true;

    /// <summary>Processes with a run-queue histogram (and Go processes known) at once; more are counted, not timed.</summary>
    public uint MaxProcesses { get; init; } = 1024;

    /// <summary>Threads of those processes waiting in a run queue at once.</summary>
    public uint MaxThreads { get; init; } = 16_384;
}
