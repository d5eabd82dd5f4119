using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FlowMesh.TestSupport;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// One fleet for the gateway's tests: two hosts (namespaces), a Node on each with tag
/// injection, an Aggregator with its gateway on a free loopback port, a real
/// redis-server, and real traffic from host A to host B made once: <see cref="Exchanges"/>
/// complete connections, one reset by the server, one refused, and one left open.
/// </summary>
public sealed class GatewayFleet : IAsyncLifetime
{
    public const int Port = 8080;
    public const int ClosedPort = Port + 1;
    public const int StreamPort = Port + 2;
    public const int Exchanges = 24;
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private TwoHosts? _hosts;
    private Socket? _listener;
    private Socket? _openClient;
    private Socket? _openServer;
    private MemberProcess? _a;
    private MemberProcess? _b;

    public LocalRedisServer Redis { get; private set; } = null!;
    internal MemberProcess Aggregator { get; private set; } = null!;
    public string Cluster { get; } = $"g{Random.Shared.Next(1 << 24):x}";
    public HttpClient Http { get; private set; } = null!;
    internal TwoHosts Hosts => _hosts!;
    public Socket Listener => _listener!;

    /// <summary>Client flow cookies (host A) of the complete exchanges, the reset one, the refused one and the open one.</summary>
    public List<ulong> ExchangeCookies { get; } = [];
    public ulong ResetCookie { get; private set; }
    public ulong RefusedCookie { get; private set; }
    public ulong OpenCookie { get; private set; }

    /// <summary>The edge of the exchanges: the test process's name, then host B's address and port.</summary>
    public string Edge { get; private set; } = "";

    public async Task InitializeAsync()
    {
        KernelTestRequirements.Require();
        _hosts = TwoHosts.Create();
        var server = IPAddress.Parse(_hosts.AddressB);
        _listener = _hosts.B.Inside(() => Sockets.Listen(server, Port));
        Redis = await LocalRedisServer.StartAsync();
        string[] ports = ["--capture-port", $"{Port}", "--capture-port", $"{ClosedPort}", "--capture-port", $"{StreamPort}", "--inject-tag"];
        // The open connection reports itself to its session only after the tests (default: every minute).
        var quiet = new Dictionary<string, string>
        {
            ["FLOWMESH_FLOWS__SESSIONREPORTSECONDS"] = "3600",
            // The servers here are this test process, a .NET process: watched, its closed flows would
            // wait up to a second for its GC events (see the README's Runtime), and the stream test
            // measures the gateway's own delay. DotnetRuntimeTests covers .NET servers.
            ["FLOWMESH_NODE__RUNTIME__DOTNET"] = "false",
        };
        var started = await Task.WhenAll(
            MemberProcess.StartAsync("host-a", Redis, Cluster, ["--netns", _hosts.A.Name, .. ports], quiet),
            MemberProcess.StartAsync("host-b", Redis, Cluster, ["--netns", _hosts.B.Name, .. ports], quiet),
            MemberProcess.StartAggregatorAsync(Redis, Cluster, ["--join-window", "1"]));
        (_a, _b, Aggregator) = (started[0], started[1], started[2]);
        Http = new HttpClient { BaseAddress = Aggregator.GatewayUrl, Timeout = TimeSpan.FromSeconds(30) };
        // Both Nodes are in the gateway's view of the cluster before traffic starts.
        await ClusterClient.WaitForAsync(async () => (await GetJsonAsync("/api/cluster")).GetProperty("members").GetArrayLength(), n => n == 3, "two Nodes and the Aggregator", Deadline);

        for (var i = 0; i < Exchanges; i++)
            ExchangeCookies.Add(Exchange(5000, 3000));
        ResetCookie = ResetByServer();
        RefusedCookie = Refused();
        (_openClient, _openServer) = _hosts.A.Inside(() => Sockets.Connect(_listener, new IPEndPoint(server, Port)));
        Sockets.SendAll(_openClient, Sockets.Pattern(100, 9));
        Sockets.ReceiveExactly(_openServer, 100);
        OpenCookie = Sockets.FlowCookie(_openClient);

        // Every exchange settled, joined, and its latency written (sketches are flushed every second).
        var settled = await ClusterClient.WaitForAsync(() => GetJsonAsync("/api/edges"),
            edges => edges.EnumerateArray().Any(e => e.GetProperty("server").GetString() == $"{_hosts.AddressB}:{Port}" && e.GetProperty("sessions").GetInt64() == Exchanges + 1),
            $"{Exchanges + 1} sessions on the edge to {_hosts.AddressB}:{Port}", Deadline);
        Edge = settled.EnumerateArray().First(e => e.GetProperty("server").GetString() == $"{_hosts.AddressB}:{Port}").GetProperty("edge").GetString()!;
        // The refused connection settles one-sided after the join window.
        await ClusterClient.WaitForAsync(() => GetJsonAsync("/api/edges"),
            edges => edges.EnumerateArray().Any(e => e.GetProperty("server").GetString() == $"{_hosts.AddressB}:{ClosedPort}"), "the refused connection's edge", Deadline);
        try
        {
            await ClusterClient.WaitForAsync(() => GetJsonAsync($"/api/latency?edge={Uri.EscapeDataString(Edge)}"),
                l => l.GetProperty("count").GetInt64() == Exchanges + 1, "the edge's connect latencies", Deadline);
        }
        catch (Exception e)
        {
            // Say which values the sketches lack: the sessions' own connect times beside the sketch's summary.
            var sessions = await GetJsonAsync($"/api/sessions?edge={Uri.EscapeDataString(Edge)}&limit=1000");
            throw new InvalidOperationException(e.Message + "\nsessions' connect times: " + string.Join(", ",
                sessions.GetProperty("items").EnumerateArray().Select(x => x.GetProperty("connectMs").ToString()).Order()), e);
        }
    }

    public Task<JsonElement> GetJsonAsync(string path) => Http.GetJsonAsync(path);

    /// <summary>A complete connection from host A: bytes up, bytes down, client closes first. Returns the client's cookie.</summary>
    public ulong Exchange(int up, int down, Socket? listener = null, int port = Port)
    {
        var server = IPAddress.Parse(Hosts.AddressB);
        var (client, accepted) = Hosts.A.Inside(() => Sockets.Connect(listener ?? Listener, new IPEndPoint(server, port)));
        using (client)
        using (accepted)
        {
            var cookie = Sockets.FlowCookie(client);
            Sockets.SendAll(client, Sockets.Pattern(up, 1));
            Sockets.ReceiveExactly(accepted, up);
            Sockets.SendAll(accepted, Sockets.Pattern(down, 2));
            Sockets.ReceiveExactly(client, down);
            Sockets.CloseClientFirst(client, accepted);
            return cookie;
        }
    }

    private ulong ResetByServer()
    {
        var (client, accepted) = Hosts.A.Inside(() => Sockets.Connect(Listener, new IPEndPoint(IPAddress.Parse(Hosts.AddressB), Port)));
        using (client)
        {
            var cookie = Sockets.FlowCookie(client);
            Sockets.SendAll(client, Sockets.Pattern(10, 3));
            Sockets.ReceiveExactly(accepted, 10);
            Sockets.CloseAbortively(accepted);
            return cookie;
        }
    }

    private ulong Refused()
    {
        using var connection = Hosts.A.Inside(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        var cookie = Sockets.FlowCookie(connection);
        try
        {
            connection.Connect(IPAddress.Parse(Hosts.AddressB), ClosedPort);
        }
        catch (SocketException)
        {
        }
        return cookie;
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        _openClient?.Dispose();
        _openServer?.Dispose();
        _listener?.Dispose();
        if (Aggregator is not null)
            await Aggregator.DisposeAsync();
        if (_b is not null)
            await _b.DisposeAsync();
        if (_a is not null)
            await _a.DisposeAsync();
        if (Redis is not null)
            await Redis.DisposeAsync();
        _hosts?.Dispose();
    }
}
