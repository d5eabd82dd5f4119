using System.Diagnostics;
using System.Runtime.InteropServices;

namespace FlowMesh.Workloads.GcServer;

/// <summary>
/// The server's clock for its headers: Stopwatch ticks, which on Linux are
/// clock_gettime(CLOCK_MONOTONIC) in nanoseconds (the clock the kernel stamps TCP events
/// with). Checked against clock_gettime itself at start, not assumed.
/// </summary>
internal static partial class MonotonicTime
{
    private const int ClockMonotonic = 1;

    public static long NowNs() => Stopwatch.GetTimestamp();

    /// <summary>Stopwatch runs at 1 GHz and a reading of it falls between two CLOCK_MONOTONIC readings.</summary>
    public static bool StopwatchIsMonotonic(out string why)
    {
        if (Stopwatch.Frequency != 1_000_000_000)
        {
            why = $"Stopwatch.Frequency is {Stopwatch.Frequency}, not 1 GHz: its ticks are not CLOCK_MONOTONIC nanoseconds";
            return false;
        }
        long before = 0, stopwatch = 0, after = 0;
        // A preemption between the readings cannot break the order, only widen it; several tries guard a clock read failing.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            before = ClockGettimeNs();
            stopwatch = Stopwatch.GetTimestamp();
            after = ClockGettimeNs();
            if (before <= stopwatch && stopwatch <= after)
            {
                why = "";
                return true;
            }
        }
        why = $"Stopwatch read {stopwatch}, outside CLOCK_MONOTONIC's {before}..{after}: its ticks are not CLOCK_MONOTONIC nanoseconds";
        return false;
    }

    private static long ClockGettimeNs()
    {
        if (clock_gettime(ClockMonotonic, out var t) != 0)
            return -1;
        return t.Seconds * 1_000_000_000 + t.Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc")]
    private static partial int clock_gettime(int clock, out TimeSpec time);
}
