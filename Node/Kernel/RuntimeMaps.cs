namespace FlowMesh.Node.Kernel;

/// <summary>The file descriptors of the kernel's runtime tables (owned by the loaded object: never closed here).</summary>
public sealed record RuntimeMaps(int RunQueueHistogramsFd, int RunQueueStartsFd, int GoProcessesFd, int GoHistogramsFd)
{
    public const string RunQueueHistograms = "fm_rq_hist";
    public const string RunQueueStarts = "fm_rq_start";
    public const string GoProcesses = "fm_go_procs";
    public const string GoHistograms = "fm_go_sched";
}
