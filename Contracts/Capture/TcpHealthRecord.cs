using System.Runtime.InteropServices;

namespace FlowMesh.Contracts.Capture;

/// <summary>
/// A socket's TCP health, laid out as <c>struct fm_health</c> in bpf/capture.h: the figures
/// the kernel keeps in its tcp_sock (the ones <c>ss -ti</c> shows) and the counters the
/// kernel programs keep per socket (retransmissions by kind, dropped segments).
/// Mutable so code that makes records (tests, the benchmarks) can fill one; a record holds it read-only.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct TcpHealthRecord
{
    public const int Size = 64;

    /// <summary>Bytes per second: the kernel's latest delivery-rate sample.</summary>
    public ulong DeliveryRate;
    public ulong BytesRetransmitted;
    /// <summary>Windowed minimum RTT; 0 before the first sample.</summary>
    public uint MinRttUs;
    /// <summary>RTT variation as tcp_info reports it (mdev / 4).</summary>
    public uint RttVarUs;
    /// <summary>Congestion window, in segments.</summary>
    public uint CongestionWindow;
    /// <summary>Segments the peer reported receiving twice (D-SACK): spurious retransmissions.</summary>
    public uint DsackDuplicates;
    public uint ReorderingSeen;
    public uint OutOfOrderPackets;
    /// <summary>Segments of this socket the kernel dropped (skb:kfree_skb).</summary>
    public uint Drops;
    /// <summary>enum skb_drop_reason of the latest drop.</summary>
    public uint DropReason;
    public uint RetransmitsTimeout;
    public uint RetransmitsFast;
    public uint RetransmitsProbe;
    /// <summary>SYN (client) or SYN-ACK (server) retransmissions.</summary>
    public uint RetransmitsSyn;
}
