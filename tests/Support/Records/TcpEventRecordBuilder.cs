using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using FlowMesh.Contracts.Capture;

namespace FlowMesh.TestSupport.Records;

/// <summary>
/// A mutable twin of <see cref="TcpEventRecord"/> for code that makes records
/// instead of reading them from the kernel: tests and the benchmarks' synthetic sources
/// (the product only reads records). Same layout, so <see cref="WriteTo"/> produces the
/// kernel's bytes, and <see cref="ToRecord"/> reads them back as the ring readers do.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct TcpEventRecordBuilder
{
    public ushort Version;
    public TcpEventKind Kind;
    public byte Family;
    public TcpState OldState;
    public TcpState NewState;
    public TcpEventFlags Flags;
    public ulong TimestampNs;
    public ulong SocketCookie;
    public ulong CgroupId;
    public uint NetNsInode;
    public uint Pid;
    public uint Tgid;
    public ushort LocalPort;
    public ushort RemotePort;
    public AddressBytes LocalAddress;
    public AddressBytes RemoteAddress;
    public CommBytes Comm;
    public uint IsnLocal;
    public uint IsnRemote;
    public ulong BytesAcked;
    public ulong BytesReceived;
    public uint SegmentsOut;
    public uint SegmentsIn;
    public uint SmoothedRttUs;
    public uint TotalRetransmissions;
    public ulong TraceTag;
    public ulong Goid;
    public uint Reason;
    public uint SocketError;
    public TcpHealthRecord Health;

    /// <summary>A state-transition record of the current layout version.</summary>
    public static TcpEventRecordBuilder Transition(ulong cookie, TcpState from, TcpState to, ulong timestampNs = 0) => new()
    {
        Version = TcpEventRecord.CurrentVersion,
        Kind = TcpEventKind.State,
        Family = TcpEventRecord.AfInet,
        OldState = from,
        NewState = to,
        SocketCookie = cookie,
        TimestampNs = timestampNs,
    };

    public TcpEventRecordBuilder WithEndpoints(IPEndPoint local, IPEndPoint remote)
    {
        Family = local.AddressFamily == AddressFamily.InterNetworkV6 ? TcpEventRecord.AfInet6 : TcpEventRecord.AfInet;
        LocalPort = (ushort)local.Port;
        RemotePort = (ushort)remote.Port;
        local.Address.TryWriteBytes(LocalAddress, out _);
        remote.Address.TryWriteBytes(RemoteAddress, out _);
        return this;
    }

    public TcpEventRecordBuilder WithTask(uint tgid, uint pid, string comm)
    {
        Tgid = tgid;
        Pid = pid;
        Comm = default;
        Span<byte> bytes = Comm;
        var n = Math.Min(Encoding.UTF8.GetByteCount(comm), bytes.Length - 1);
        Encoding.UTF8.GetBytes(comm.AsSpan(0, Math.Min(comm.Length, n)), bytes);
        Flags |= TcpEventFlags.Task;
        return this;
    }

    public readonly TcpEventRecord ToRecord()
    {
        Span<byte> bytes = stackalloc byte[TcpEventRecord.Size];
        WriteTo(bytes);
        return MemoryMarshal.Read<TcpEventRecord>(bytes);
    }

    /// <summary>Writes the record's bytes as the kernel would; <paramref name="destination"/> needs <see cref="TcpEventRecord.Size"/> bytes.</summary>
    public readonly void WriteTo(Span<byte> destination)
    {
        var copy = this;
        MemoryMarshal.Write(destination, in copy);
    }
}
