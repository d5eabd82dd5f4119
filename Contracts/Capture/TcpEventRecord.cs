using System.Net;
using System.Runtime.InteropServices;

namespace FlowMesh.Contracts.Capture;

/// <summary>
/// One kernel record, laid out exactly as <c>struct fm_event</c> in bpf/capture.h so
/// it can be read straight out of a ring buffer with no copy beyond the struct itself.
/// The layout test compares every offset with what the C compiler computes.
/// "Local" is always this host's end of the connection.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct TcpEventRecord
{
    /// <summary>sizeof(struct fm_event).</summary>
    public const int Size = 224;

    /// <summary>FM_RECORD_VERSION: the layout this code reads.</summary>
    public const ushort CurrentVersion = 4;

    public const byte AfInet = 2;
    public const byte AfInet6 = 10;

    public readonly ushort Version;
    public readonly TcpEventKind Kind;
    public readonly byte Family;
    public readonly TcpState OldState;
    public readonly TcpState NewState;
    public readonly TcpEventFlags Flags;
    /// <summary>CLOCK_MONOTONIC nanoseconds when the kernel saw the event.</summary>
    public readonly ulong TimestampNs;
    /// <summary>The socket's SO_COOKIE, unique per socket for the kernel's lifetime; 0 with <see cref="TcpEventFlags.NoSocket"/>.</summary>
    public readonly ulong SocketCookie;
    public readonly ulong CgroupId;
    public readonly uint NetNsInode;
    public readonly uint Pid;
    public readonly uint Tgid;
    public readonly ushort LocalPort;
    public readonly ushort RemotePort;
    public readonly AddressBytes LocalAddress;
    public readonly AddressBytes RemoteAddress;
    public readonly CommBytes Comm;
    public readonly uint IsnLocal;
    public readonly uint IsnRemote;
    /// <summary>Payload bytes this end sent that the peer acknowledged (SYN and FIN not counted).</summary>
    public readonly ulong BytesAcked;
    /// <summary>Payload bytes received in order from the peer (FIN not counted).</summary>
    public readonly ulong BytesReceived;
    public readonly uint SegmentsOut;
    public readonly uint SegmentsIn;
    public readonly uint SmoothedRttUs;
    public readonly uint TotalRetransmissions;
    /// <summary>The connection's trace tag (see <see cref="TcpEventFlags.TagSent"/>), 0 if none.</summary>
    public readonly ulong TraceTag;
    /// <summary>The Go goroutine that made the connect() or accept() (see <see cref="TcpEventFlags.Goid"/>).</summary>
    public readonly ulong Goid;
    /// <summary><see cref="TcpEventKind.ResetSent"/>: the kernel's enum sk_rst_reason (why it sent the reset); otherwise 0.</summary>
    public readonly uint Reason;
    /// <summary>At a transition to TCP_CLOSE: the socket's pending error (an errno, e.g. ETIMEDOUT); otherwise 0.</summary>
    public readonly uint SocketError;
    /// <summary>With <see cref="TcpEventFlags.Stats"/>: the socket's TCP health.</summary>
    public readonly TcpHealthRecord Health;

    public bool Has(TcpEventFlags flag) => (Flags & flag) == flag;

    /// <summary>True when pid, tgid, comm and cgroup name a process.</summary>
    public bool HasProcess => (Flags & (TcpEventFlags.Task | TcpEventFlags.Owner)) != 0;

    public bool IsIPv6 => Family == AfInet6;

    public IPAddress LocalIPAddress => LocalAddress.ToAddress(IsIPv6);

    public IPAddress RemoteIPAddress => RemoteAddress.ToAddress(IsIPv6);

    /// <summary>The task name (comm), or an empty string when no process is known.</summary>
    public string CommText => Comm.ToText();

    /// <summary>
    /// Reads and validates one record. Never throws: a record that is short, of an
    /// unknown version or with out-of-range fields returns the reason and is to be counted.
    /// </summary>
    public static RecordDecodeResult TryRead(ReadOnlySpan<byte> data, out TcpEventRecord record)
    {
        record = default;
        if (data.Length < sizeof(ushort))
            return RecordDecodeResult.Truncated;
        var version = MemoryMarshal.Read<ushort>(data);
        if (version != CurrentVersion)
            return RecordDecodeResult.UnsupportedVersion;
        if (data.Length != Size)
            return data.Length < Size ? RecordDecodeResult.Truncated : RecordDecodeResult.WrongSize;

        record = MemoryMarshal.Read<TcpEventRecord>(data);
        if (record.Kind is < TcpEventKind.State or > TcpEventKind.Report)
            return RecordDecodeResult.UnknownKind;
        if (record.Family is not (AfInet or AfInet6))
            return RecordDecodeResult.UnknownFamily;
        if (record.OldState is TcpState.Unknown or > TcpStateNames.Highest ||
            record.NewState is TcpState.Unknown or > TcpStateNames.Highest)
            return RecordDecodeResult.UnknownState;
        return RecordDecodeResult.Ok;
    }
}

/// <summary>Why a record could not be decoded.</summary>
public enum RecordDecodeResult
{
    Ok,
    Truncated,
    WrongSize,
    UnsupportedVersion,
    UnknownKind,
    UnknownFamily,
    UnknownState,
}
