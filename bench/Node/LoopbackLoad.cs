using System.Net;
using System.Net.Sockets;

namespace FlowMesh.Bench;

/// <summary>
/// Loopback connection churn, the workload the kernel benchmarks measure: each
/// connection is connect, 1 byte, close. The server closes first so TIME_WAIT sits on
/// the listening side and the client never runs out of ephemeral ports.
/// </summary>
internal sealed class LoopbackLoad : IDisposable
{
    private readonly Socket _listener;
    private readonly Thread[] _servers;
    private readonly Thread[] _clients;
    private volatile bool _stopping;
    private long _completed;

    public LoopbackLoad(int clientThreads, int port = 0)
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        _listener.Listen(4096);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _servers = Enumerable.Range(0, clientThreads).Select(i => new Thread(Serve) { IsBackground = true, Name = $"bench-server-{i}" }).ToArray();
        _clients = Enumerable.Range(0, clientThreads).Select(i => new Thread(Connect) { IsBackground = true, Name = $"bench-client-{i}" }).ToArray();
    }

    public int Port { get; }

    /// <summary>Connections completed so far (both ends closed by the client's view).</summary>
    public long Completed => Interlocked.Read(ref _completed);

    public void Start()
    {
        foreach (var t in _servers)
            t.Start();
        foreach (var t in _clients)
            t.Start();
    }

    private void Serve()
    {
        var one = new byte[1];
        while (!_stopping)
        {
            try
            {
                using var connection = _listener.Accept();
                connection.Receive(one);
            }
            catch (SocketException) when (_stopping)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    private void Connect()
    {
        var one = new byte[] { 1 };
        var endpoint = new IPEndPoint(IPAddress.Loopback, Port);
        while (!_stopping)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                client.Connect(endpoint);
                client.Send(one);
                client.Receive(one); // returns 0 at the server's FIN
            }
            catch (SocketException) when (_stopping)
            {
                return;
            }
            Interlocked.Increment(ref _completed);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _listener.Dispose();
        foreach (var t in _clients)
            t.Join();
        foreach (var t in _servers)
            t.Join();
    }
}
