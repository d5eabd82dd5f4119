using System.Net;
using System.Net.Sockets;

namespace FlowMesh.SystemTests.Harness;

/// <summary>Two hosts (namespaces) joined by a veth pair, with an address each; both removed on dispose.</summary>
internal sealed class TwoHosts : IDisposable
{
    private TwoHosts(TestNamespace a, TestNamespace b, string addressA, string addressB) =>
        (A, B, AddressA, AddressB) = (a, b, addressA, addressB);

    public TestNamespace A { get; }
    public TestNamespace B { get; }
    public string AddressA { get; }
    public string AddressB { get; }

    /// <summary>A TCP socket made inside host A (a client there).</summary>
    public Socket ClientOnA() => A.Inside(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));

    /// <summary>A listener on host B's address.</summary>
    public Socket ListenOnB(int port, int backlog = 512) => B.Inside(() => Sockets.Listen(IPAddress.Parse(AddressB), port, backlog));

    /// <summary>A client on A connected to <paramref name="listener"/> on B, and the server's accepted socket.</summary>
    public (Socket Client, Socket Server) ConnectAToB(Socket listener, int port)
    {
        var client = ClientOnA();
        client.Connect(IPAddress.Parse(AddressB), port);
        return (client, listener.Accept());
    }

    /// <summary>Host A's end of the veth pair (inside A), e.g. for tcpdump.</summary>
    public string InterfaceA { get; private set; } = "";

    /// <summary>Host B's end of the veth pair (inside B).</summary>
    public string InterfaceB { get; private set; } = "";

    public static TwoHosts Create()
    {
        // Addresses that exist only inside this test's own namespaces.
        var net = Random.Shared.Next(1, 250);
        var a = TestNamespace.Create("a");
        try
        {
            var b = TestNamespace.Create("b");
            var hosts = new TwoHosts(a, b, $"10.213.{net}.1", $"10.213.{net}.2");
            try
            {
                (hosts.InterfaceA, hosts.InterfaceB) = TestNamespace.Link(a, hosts.AddressA, b, hosts.AddressB);
                return hosts;
            }
            catch
            {
                hosts.Dispose();
                throw;
            }
        }
        catch
        {
            a.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        B.Dispose();
        A.Dispose();
    }
}
