using System.Net;
using System.Runtime.InteropServices;

namespace FlowMesh.Contracts.Capture;

/// <summary>
/// One listening socket and what it refused, laid out as <c>struct fm_listener</c> in
/// bpf/capture.h (written by the fm_listeners socket iterator).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct ListenerRecord
{
    public const int Size = 40;

    public readonly uint NetNsInode;
    public readonly ushort Family;
    public readonly ushort Port;
    public readonly AddressBytes LocalAddress;
    /// <summary>SYNs and completed handshakes dropped because the SYN queue or the accept queue was full, since listen().</summary>
    public readonly uint Drops;
    /// <summary>Connections waiting in the accept queue now.</summary>
    public readonly uint Backlog;
    /// <summary>The accept queue's bound: listen()'s backlog, capped by net.core.somaxconn.</summary>
    public readonly uint MaxBacklog;
    private readonly uint _pad;

    public bool IsIPv6 => Family == TcpEventRecord.AfInet6;

    /// <summary>The bound address; Any (or IPv6Any) for a listener on every address.</summary>
    public IPAddress Address => LocalAddress.ToAddress(IsIPv6);
}
