using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FlowMesh.Contracts.Capture;

/// <summary>
/// Mirror of <c>struct fm_hist</c>: one process's cumulative histogram of run-queue (or Go
/// scheduling) delays, as the kernel keeps it. Buckets are log-linear over nanoseconds:
/// <see cref="SubBuckets"/> per power of two from 2^<see cref="MinLog2"/> ns; bucket 0 holds
/// every shorter delay and the last one every delay of 2^<see cref="MaxLog2"/> ns or more.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct RuntimeHistogramRecord
{
    public const int SubBits = 4;
    public const int SubBuckets = 1 << SubBits;
    public const int MinLog2 = 10;
    public const int MaxLog2 = 34;
    public const int BucketCount = ((MaxLog2 - MinLog2) << SubBits) + 2;

    public ulong Count;
    public ulong SumNs;
    /// <summary>Go: goroutines runnable now, as the probes counted them since they were attached.</summary>
    public long Runnable;
    public BucketArray Buckets;

    /// <summary>The delays, in nanoseconds, bucket <paramref name="index"/> holds: [low, high).</summary>
    public static (double Low, double High) RangeOf(int index)
    {
        if (index <= 0)
            return (0, 1L << MinLog2);
        if (index >= BucketCount - 1)
            return (1L << MaxLog2, 1L << MaxLog2);
        var i = index - 1;
        var octave = MinLog2 + (i >> SubBits);
        var step = 1L << (octave - SubBits);
        var low = (1L << octave) + (i & (SubBuckets - 1)) * step;
        return (low, low + step);
    }

    /// <summary>The bucket a delay of <paramref name="ns"/> nanoseconds falls in, computed as the kernel does.</summary>
    public static int IndexOf(ulong ns)
    {
        if (ns < 1UL << MinLog2)
            return 0;
        var e = 63 - System.Numerics.BitOperations.LeadingZeroCount(ns);
        if (e >= MaxLog2)
            return BucketCount - 1;
        return ((e - MinLog2) << SubBits) + (int)((ns >> (e - SubBits)) & (SubBuckets - 1)) + 1;
    }

    [InlineArray(BucketCount)]
    public struct BucketArray
    {
        private uint _element0;
    }
}

/// <summary>Mirror of <c>struct fm_go_proc</c>: where a Go process's runtime keeps what the kernel programs read.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GoProcessRecord
{
    /// <summary>FM_GO_SCHED: its runtime.execute probe is attached and its scheduling delays are timed.</summary>
    public const uint ScheduleFlag = 1;

    public uint GoidOffset;
    public uint Flags;
    public uint GTrackingOffset;
    public uint GRunnableStampOffset;
    public ulong SchedAddress;
    public ulong AllpAddress;
    public uint SchedRunqSizeOffset;
    public uint PRunqHeadOffset;
    public uint PRunqTailOffset;
    public uint PRunnextOffset;
}
