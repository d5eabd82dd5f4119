namespace FlowMesh.Node.Kernel;

/// <summary>
/// The offset from the kernel's monotonic clock to wall-clock time, sampled again once a
/// second as it is read: NTP steps the wall clock (and a resumed VM's moves with it), and
/// one sample taken at start would put every later flow off by the step for good. A
/// flow's times are converted when its view is made, so a step moves only the views made
/// before the next sample.
/// </summary>
public sealed class WallClockOffset(Func<long> sample, Func<long> nowMs)
{
    private const long ResampleMs = 1000;
    private long _offsetNs = sample();
    private long _sampledAtMs = nowMs();

    /// <summary>The offset from the paired clock_gettime calls, sampled once a second.</summary>
    public WallClockOffset() : this(() => MonotonicClock.Sample().RealtimeMinusMonotonicNs, () => Environment.TickCount64)
    {
    }

    /// <summary>Add to a monotonic timestamp (ns) to get Unix time (ns).</summary>
    public long RealtimeMinusMonotonicNs
    {
        get
        {
            var now = nowMs();
            if (now - Volatile.Read(ref _sampledAtMs) >= ResampleMs)
            {
                Volatile.Write(ref _offsetNs, sample());
                Volatile.Write(ref _sampledAtMs, now);
            }
            return Volatile.Read(ref _offsetNs);
        }
    }
}
