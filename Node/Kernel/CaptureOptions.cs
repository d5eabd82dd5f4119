namespace FlowMesh.Node.Kernel;

/// <summary>Settings fixed when the BPF programs are loaded.</summary>
public sealed record CaptureOptions
{
    // 2 MiB: a record is 224 bytes since version 4 (TCP health), so this holds about 9,000, more
    // than 1 MiB held of the 160-byte records before it: the headroom for a reader that stalls.
    public const uint DefaultRingBytes = 1 << 21;
    public const int DefaultPollMs = 2;

    /// <summary>Network namespace to capture: <c>self</c> (this process's), <c>all</c>, a name under /run/netns, or a path such as /proc/PID/ns/net.</summary>
    public string NetNs { get; init; } = "self";

    /// <summary>If not empty, only connections with one of these ports at either end.</summary>
    public IReadOnlyList<ushort> IncludePorts { get; init; } = [];

    /// <summary>Connections with one of these ports at either end are never reported.</summary>
    public IReadOnlyList<ushort> ExcludePorts { get; init; } = [];

    /// <summary>Never report this process's own connections (to Redis, to other members...).</summary>
    public bool ExcludeOwnProcess { get; init; } = true;

    /// <summary>Bytes per CPU ring buffer; a power of two, at least one page.</summary>
    public uint RingBytes { get; init; } = DefaultRingBytes;

    /// <summary>How often a reader polls its ring when the kernel has not woken it.</summary>
    public int PollMs { get; init; } = DefaultPollMs;

    /// <summary>The kernel wakes a reader early once this many bytes wait; 0 = never, poll only. Default: a quarter of the ring.</summary>
    public uint? WakeupBytes { get; init; }

    /// <summary>Records per batch handed to the sink.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>
    /// Write a trace tag (an RFC 6994 experimental TCP option) into the SYN of every
    /// connection this namespace opens. Tags other hosts write are read either way.
    /// Experimental options do not belong on the open internet: off by default.
    /// </summary>
    public bool InjectTag { get; init; }

    /// <summary>The key that signs this host's tags (<see cref="Flows.TagAuthenticator"/>); none: tags are 64 random bits.</summary>
    public Flows.TagAuthenticator.Key? TagKey { get; init; }

    /// <summary>Runtime measurements: accept(), run-queue delay, and the bounds of their kernel tables.</summary>
    public RuntimeCaptureOptions Runtime { get; init; } = new();

    /// <summary>Report sockets already open when capture starts (marked mid-life).</summary>
    public bool ReportExistingSockets { get; init; } = true;

    /// <summary>The BPF object; by default capture.bpf.o beside the Node's binary.</summary>
    public string? BpfObjectPath { get; init; }

    internal string ResolvedBpfObjectPath => BpfObjectPath ?? Path.Combine(AppContext.BaseDirectory, "capture.bpf.o");

    internal uint ResolvedWakeupBytes => WakeupBytes ?? RingBytes / 4;
}
