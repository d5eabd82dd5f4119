using System.Net;
using System.Net.Sockets;
using FlowMesh.TestSupport;

namespace FlowMesh.SystemTests.Harness;

/// <summary>Real sockets for the tests, and the kernel's identity of each (SO_COOKIE).</summary>
internal static class Sockets
{
    private const int SolSocket = 1;
    private const int SoCookie = 57;

    /// <summary>The socket's cookie: the same number the BPF programs report for it.</summary>
    public static ulong Cookie(Socket socket)
    {
        Span<byte> value = stackalloc byte[8];
        socket.GetRawSocketOption(SolSocket, SoCookie, value);
        return BitConverter.ToUInt64(value);
    }

    /// <summary>
    /// The cookie of the socket's flow, as flow ids carry it: SO_COOKIE with the first four
    /// hex digits of this boot's id in its top 16 bits (read here from /proc, as the README
    /// describes the id).
    /// </summary>
    public static ulong FlowCookie(Socket socket) => Cookie(socket) | BootBits.Value;

    private static readonly Lazy<ulong> BootBits = new(() =>
        Convert.ToUInt64(File.ReadAllText("/proc/sys/kernel/random/boot_id")[..4], 16) << 48);

    public static Socket Listen(IPAddress address, int port = 0, int backlog = 512)
    {
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(address, port));
        listener.Listen(backlog);
        return listener;
    }

    /// <summary>A port nobody listens on right now (bound, noted, released).</summary>
    public static int FreePort(IPAddress address) => LoopbackPort.Free(address);

    public static int Port(Socket s) => ((IPEndPoint)s.LocalEndPoint!).Port;

    /// <summary>Connects a client to <paramref name="listener"/> and accepts it: (client, accepted socket).</summary>
    public static (Socket Client, Socket Server) Connect(Socket listener, EndPoint? via = null)
    {
        var endpoint = via ?? listener.LocalEndPoint!;
        var client = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(endpoint);
        var server = listener.Accept();
        return (client, server);
    }

    public static void SendAll(Socket s, byte[] data)
    {
        var sent = 0;
        while (sent < data.Length)
            sent += s.Send(data, sent, data.Length - sent, SocketFlags.None);
    }

    public static byte[] ReceiveExactly(Socket s, int count)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = s.Receive(buffer, read, count - read, SocketFlags.None);
            if (n == 0)
                throw new IOException($"peer closed after {read} of {count} bytes");
            read += n;
        }
        return buffer;
    }

    /// <summary>Reads until the peer's FIN (Receive returns 0).</summary>
    public static void ReceiveUntilClosed(Socket s)
    {
        var buffer = new byte[4096];
        while (s.Receive(buffer) > 0)
        {
        }
    }

    /// <summary>The client closes; the server reads to the end, then closes: the ordinary close of a request/response.</summary>
    public static void CloseClientFirst(Socket client, Socket server)
    {
        client.Close();
        ReceiveUntilClosed(server);
        server.Close();
    }

    /// <summary>SO_LINGER with timeout 0: Close sends RST instead of FIN.</summary>
    public static void CloseAbortively(Socket s)
    {
        s.LingerState = new LingerOption(true, 0);
        s.Close();
    }

    public static byte[] Pattern(int length, int seed) =>
        Enumerable.Range(0, length).Select(i => (byte)(i * 31 + seed)).ToArray();

    /// <summary>A request of <paramref name="requestBytes"/> from client to server and a response of <paramref name="responseBytes"/> back, each checked byte for byte.</summary>
    public static (byte[] Request, byte[] Response) Exchange(Socket client, Socket server, int requestBytes, int responseBytes)
    {
        var request = Pattern(requestBytes, 1);
        var response = Pattern(responseBytes, 2);
        SendAll(client, request);
        Assert.Equal(request, ReceiveExactly(server, request.Length));
        SendAll(server, response);
        Assert.Equal(response, ReceiveExactly(client, response.Length));
        return (request, response);
    }
}
