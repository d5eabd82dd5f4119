using System.Net;
using System.Net.Sockets;

namespace FlowMesh.TestSupport;

/// <summary>A free TCP port on 127.0.0.1 for a private server (redis-server, a gateway, a load process) that benches and tests start.</summary>
public static class LoopbackPort
{
    /// <summary>A port the kernel just handed out and released: free now, not reserved (another process could take it first).</summary>
    public static int Free() => Free(IPAddress.Loopback);

    /// <summary>As <see cref="Free()"/>, on another address (IPv6, any).</summary>
    public static int Free(IPAddress address)
    {
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(address, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
