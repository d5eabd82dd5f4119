using FlowMesh.Node.Kernel.Native;

namespace FlowMesh.Node.Kernel;

/// <summary>Converts the kernel's CLOCK_MONOTONIC timestamps to wall-clock time, from one paired sample of both clocks.</summary>
public readonly struct MonotonicClock
{
    private readonly long _realtimeMinusMonotonicNs;

    private MonotonicClock(long offset) => _realtimeMinusMonotonicNs = offset;

    public static unsafe MonotonicClock Sample()
    {
        LibC.TimeSpec mono, real;
        LibC.clock_gettime(LibC.CLOCK_MONOTONIC, &mono);
        LibC.clock_gettime(LibC.CLOCK_REALTIME, &real);
        return new MonotonicClock(ToNs(real) - ToNs(mono));
    }

    /// <summary>Now, on the kernel's monotonic clock, in nanoseconds (what bpf_ktime_get_ns returns).</summary>
    public static unsafe long NowNs()
    {
        LibC.TimeSpec mono;
        LibC.clock_gettime(LibC.CLOCK_MONOTONIC, &mono);
        return ToNs(mono);
    }

    /// <summary>Add to a monotonic timestamp (ns) to get Unix time (ns).</summary>
    public long RealtimeMinusMonotonicNs => _realtimeMinusMonotonicNs;

    public DateTimeOffset ToWallClock(ulong monotonicNs) =>
        DateTimeOffset.UnixEpoch.AddTicks(((long)monotonicNs + _realtimeMinusMonotonicNs) / 100);

    private static long ToNs(LibC.TimeSpec t) => t.Seconds * 1_000_000_000 + t.Nanoseconds;
}
