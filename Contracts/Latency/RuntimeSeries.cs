namespace FlowMesh.Contracts.Latency;

/// <summary>
/// The runtime series Nodes write beside the Aggregators' latency series, in the same
/// sketches and Redis keys (<see cref="Cluster.RedisKeys.LatencyBucket"/>, one field per
/// host): a process's run-queue delay and, for Go, its goroutine scheduling delay, per
/// 10 s bucket. A process is named by its host and process name, so a restarted process
/// continues its series.
/// </summary>
public static class RuntimeSeries
{
    /// <summary>Run-queue delay of a process's threads: woken (or preempted) to running, in microseconds.</summary>
    public const string RunQueue = "runq";

    /// <summary>Go: goroutine scheduling delay, runnable to running, in microseconds.</summary>
    public const string GoSchedule = "gosched";

    /// <summary>.NET: GC pauses (execution engine suspended to restarted), in microseconds; the count is the number of pauses.</summary>
    public const string GcPause = "gcpause";

    /// <summary>The scope of one process's series: <c>proc:{host}/{process name}</c>.</summary>
    public static string Process(string hostId, string comm) => "proc:" + hostId + "/" + comm;
}
