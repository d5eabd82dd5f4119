using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FlowMesh.Contracts.Capture;

/// <summary>Mirror of <c>struct fm_config</c>: the load-time settings written into the BPF object's .rodata.config.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct CaptureConfigRecord
{
    /// <summary>FM_MAX_PORTS: how many ports each of the include and exclude lists holds.</summary>
    public const int MaxPorts = 16;

    public uint NetNsInode;
    public uint SelfTgid;
    public uint WakeupBytes;
    public uint InjectTag;
    public ulong NetNsCookie;
    public ushort IncludeCount;
    public ushort ExcludeCount;
    public PortList IncludePorts;
    public PortList ExcludePorts;
    public RuntimeFlags Runtime;
    private readonly uint _pad;

    /// <summary>FM_RT_*: which runtime measurements the kernel programs make.</summary>
    [Flags]
    public enum RuntimeFlags : uint
    {
        None = 0,
        /// <summary>Keep run-queue histograms for the processes that own traced sockets.</summary>
        RunQueue = 1 << 0,
    }

    [InlineArray(MaxPorts)]
    public struct PortList
    {
        private ushort _element0;
    }
}

/// <summary>Mirror of <c>struct fm_tag_key</c>: the key this host signs its trace tags with (the <c>fm_tag_key</c> map's one element).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct TagKeyRecord
{
    public ulong K0;
    public ulong K1;
    public uint Enabled;
    private readonly uint _pad;
}

/// <summary>Mirror of <c>struct fm_counters</c>: one CPU's kernel-side counters.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct KernelCountersRecord
{
    /// <summary>Sockets reported by the iterator as open at start.</summary>
    public readonly ulong Existing;
    /// <summary>Records lost because the ring was full.</summary>
    public readonly ulong ReserveFailed;
    /// <summary>Records lost because the CPU had no ring.</summary>
    public readonly ulong NoRing;
    /// <summary>Sockets whose storage could not be allocated (their records lack owner and ISN).</summary>
    public readonly ulong StorageFailed;
    /// <summary>Kernel bookkeeping: records since the last check of the ring's fill level.</summary>
    public readonly ulong Submitted;
    /// <summary>Processes that got no run-queue histogram: fm_rq_hist was full.</summary>
    public readonly ulong RunQueueProcessesFull;
    /// <summary>Wake-ups that could not be timed: fm_rq_start was full.</summary>
    public readonly ulong RunQueueThreadsFull;
}
