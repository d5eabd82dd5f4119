using System.Net;
using System.Net.Sockets;
using FlowMesh.SystemTests.Harness;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace FlowMesh.SystemTests;

/// <summary>
/// Real loopback connections, captured by the real `capture` command: the exact
/// sequence of events of both sockets, the bytes that were sent, and ISNs that agree.
/// </summary>
public sealed class LoopbackLifecycleTests
{
    private static readonly string[] ClientActiveClose =
        ["CLOSE->SYN_SENT", "SYN_SENT->ESTABLISHED", "ESTABLISHED->FIN_WAIT1", "FIN_WAIT1->FIN_WAIT2", "FIN_WAIT2->CLOSE"];

    private static readonly string[] ServerPassiveClose =
        ["LISTEN->SYN_RECV", "SYN_RECV->ESTABLISHED", "ESTABLISHED->CLOSE_WAIT", "CLOSE_WAIT->LAST_ACK", "LAST_ACK->CLOSE"];

    private static readonly string[] ClientPassiveClose =
        ["CLOSE->SYN_SENT", "SYN_SENT->ESTABLISHED", "ESTABLISHED->CLOSE_WAIT", "CLOSE_WAIT->LAST_ACK", "LAST_ACK->CLOSE"];

    private static readonly string[] ServerActiveClose =
        ["LISTEN->SYN_RECV", "SYN_RECV->ESTABLISHED", "ESTABLISHED->FIN_WAIT1", "FIN_WAIT1->FIN_WAIT2", "FIN_WAIT2->CLOSE"];

    [Fact]
    public Task Client_closes_first() => ClientClosesFirst(IPAddress.Loopback, "ipv4");

    [Fact]
    public Task IPv6_connections_are_captured() => ClientClosesFirst(IPAddress.IPv6Loopback, "ipv6");

    private static async Task ClientClosesFirst(IPAddress address, string family)
    {
        var port = Sockets.FreePort(address);
        await using var capture = await CaptureProcess.StartAsync("--port", $"{port}");
        using var listener = Sockets.Listen(address, port);
        var (client, server) = Sockets.Connect(listener);
        var (c, s) = (Sockets.Cookie(client), Sockets.Cookie(server));
        var (request, response) = Sockets.Exchange(client, server, 5000, 3000);

        Sockets.CloseClientFirst(client, server);
        await capture.WaitClosedAsync(c, s);

        Assert.Equal(ClientActiveClose, capture.StepsOf(c));
        Assert.Equal(ServerPassiveClose, capture.StepsOf(s));
        // The test's own accept() returned the server socket, after its handshake and before the client's FIN.
        var accept = Assert.Single(capture.AcceptsOf(s));
        Assert.Equal(Environment.ProcessId, accept.Pid);
        var established = capture.Of(s).Single(e => e.Step == "SYN_RECV->ESTABLISHED");
        var finReceived = capture.Of(s).Single(e => e.Step == "ESTABLISHED->CLOSE_WAIT");
        Assert.InRange(accept.MonotonicNs, established.MonotonicNs, finReceived.MonotonicNs);
        Assert.Empty(capture.AcceptsOf(c));
        Assert.All(capture.Of(c).Concat(capture.Of(s)), e => Assert.Equal(family, e.Family));
        AssertBytes(capture, c, sent: request.Length, received: response.Length);
        AssertBytes(capture, s, sent: response.Length, received: request.Length);
        AssertIsnsAgree(capture, c, s);
        AssertEndpoints(capture, c, s, address, port);
    }

    [Fact]
    public async Task Server_closes_first()
    {
        var port = Sockets.FreePort(IPAddress.Loopback);
        await using var capture = await CaptureProcess.StartAsync("--port", $"{port}");
        using var listener = Sockets.Listen(IPAddress.Loopback, port);
        var (client, server) = Sockets.Connect(listener);
        var (c, s) = (Sockets.Cookie(client), Sockets.Cookie(server));
        var (request, response) = Sockets.Exchange(client, server, 1, 70_000);

        server.Close();
        Sockets.ReceiveUntilClosed(client);
        client.Close();
        await capture.WaitClosedAsync(c, s);

        Assert.Equal(ClientPassiveClose, capture.StepsOf(c));
        Assert.Equal(ServerActiveClose, capture.StepsOf(s));
        AssertBytes(capture, c, sent: request.Length, received: response.Length);
        AssertBytes(capture, s, sent: response.Length, received: request.Length);
        AssertIsnsAgree(capture, c, s);
    }

    [Fact]
    public async Task Connect_to_a_closed_port_is_refused_with_a_reset()
    {
        var port = Sockets.FreePort(IPAddress.Loopback);
        await using var capture = await CaptureProcess.StartAsync("--port", $"{port}");
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var refused = Assert.Throws<SocketException>(() => client.Connect(new IPEndPoint(IPAddress.Loopback, port)));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        var c = Sockets.Cookie(client);
        await capture.WaitClosedAsync(c);
        var events = await capture.WaitForAsync(es => es.Any(e => e.NoSocket), "the reset sent for the closed port");

        Assert.Equal(["CLOSE->SYN_SENT", "reset-received@SYN_SENT", "SYN_SENT->CLOSE"], capture.StepsOf(c));
        var clientPort = capture.Of(c)[^1].LocalPort;
        var reset = Assert.Single(events, e => e.NoSocket);
        Assert.Equal("reset-sent", reset.Event);
        Assert.Equal(0UL, reset.Cookie);
        Assert.Equal((port, clientPort), (reset.LocalPort, reset.RemotePort));
        Assert.Equal(("127.0.0.1", "127.0.0.1"), (reset.LocalAddr, reset.RemoteAddr));
    }

    [Fact]
    public async Task Abortive_close_sends_a_reset_the_server_receives()
    {
        var port = Sockets.FreePort(IPAddress.Loopback);
        await using var capture = await CaptureProcess.StartAsync("--port", $"{port}");
        using var listener = Sockets.Listen(IPAddress.Loopback, port);
        var (client, server) = Sockets.Connect(listener);
        var (c, s) = (Sockets.Cookie(client), Sockets.Cookie(server));
        var (request, response) = Sockets.Exchange(client, server, 100, 10);

        Sockets.CloseAbortively(client);
        await capture.WaitClosedAsync(c, s);
        // The reset follows the client's close in its CPU's ring and may be printed after the server's close.
        await capture.WaitForAsync(e => e.Any(x => x.Cookie == c && x.Event == "reset-sent"), "the client's reset");
        server.Dispose();

        Assert.Equal(["CLOSE->SYN_SENT", "SYN_SENT->ESTABLISHED", "ESTABLISHED->CLOSE", "reset-sent@CLOSE"], capture.StepsOf(c));
        Assert.Equal(["LISTEN->SYN_RECV", "SYN_RECV->ESTABLISHED", "reset-received@ESTABLISHED", "ESTABLISHED->CLOSE"], capture.StepsOf(s));
        AssertBytes(capture, c, sent: request.Length, received: response.Length);
        AssertBytes(capture, s, sent: response.Length, received: request.Length);
    }

    [Fact]
    public async Task Only_the_requested_ports_are_captured_and_processes_are_named()
    {
        var port = Sockets.FreePort(IPAddress.Loopback);
        await using var capture = await CaptureProcess.StartAsync("--port", $"{port}");
        using var other = Sockets.Listen(IPAddress.Loopback);
        var (otherClient, otherServer) = Sockets.Connect(other);
        using var listener = Sockets.Listen(IPAddress.Loopback, port);
        var (client, server) = Sockets.Connect(listener);
        var (c, s, l) = (Sockets.Cookie(client), Sockets.Cookie(server), Sockets.Cookie(listener));
        var ignored = new[] { Sockets.Cookie(otherClient), Sockets.Cookie(otherServer), Sockets.Cookie(other) };

        Sockets.CloseClientFirst(otherClient, otherServer);
        Sockets.CloseClientFirst(client, server);
        listener.Close();
        await capture.WaitClosedAsync(c, s, l);

        Assert.DoesNotContain(capture.Events, e => ignored.Contains(e.Cookie));
        Assert.Equal(["CLOSE->LISTEN", "LISTEN->CLOSE"], capture.StepsOf(l));
        // connect() runs in this process: the task itself is named; the accepted socket
        // inherits the listener's owner (this process) from its first softirq event on.
        var connect = capture.Of(c)[0];
        Assert.Equal((Environment.ProcessId, "task"), (connect.Pid, connect.Process));
        Assert.All(capture.Of(s), e => Assert.Equal(Environment.ProcessId, e.Pid));
        Assert.All(capture.Of(c).Concat(capture.Of(s)), e => Assert.False(e.MidLife));
    }

    /// <summary>At TCP_CLOSE the socket reports exactly the payload it sent (and was acked) and received.</summary>
    internal static void AssertBytes(CaptureProcess capture, ulong cookie, int sent, int received)
    {
        var close = capture.Of(cookie).Last(e => e.IsFinalClose);
        Assert.Equal(((ulong)sent, (ulong)received), (close.BytesAcked!.Value, close.BytesReceived!.Value));
    }

    /// <summary>Each end's own ISN is the other end's remote ISN, on every event once established.</summary>
    internal static void AssertIsnsAgree(CaptureProcess capture, ulong client, ulong server)
    {
        var c = capture.Of(client).First(e => e.NewState == "TCP_ESTABLISHED");
        var s = capture.Of(server).First(e => e.NewState == "TCP_ESTABLISHED");
        Assert.NotNull(c.IsnLocal);
        Assert.Equal((c.IsnLocal, c.IsnRemote), (s.IsnRemote, s.IsnLocal));
        Assert.NotEqual(c.IsnLocal, c.IsnRemote);
        foreach (var e in capture.Of(client).SkipWhile(e => e != c))
            Assert.Equal((c.IsnLocal, c.IsnRemote), (e.IsnLocal, e.IsnRemote));
        foreach (var e in capture.Of(server).SkipWhile(e => e != s))
            Assert.Equal((s.IsnLocal, s.IsnRemote), (e.IsnLocal, e.IsnRemote));
    }

    /// <summary>"Local" is each socket's own end: the client's remote is the server's local and vice versa.</summary>
    internal static void AssertEndpoints(CaptureProcess capture, ulong client, ulong server, IPAddress address, int port)
    {
        var c = capture.Of(client).First(e => e.NewState == "TCP_ESTABLISHED");
        var s = capture.Of(server).First(e => e.NewState == "TCP_ESTABLISHED");
        Assert.Equal((address.ToString(), port), (c.RemoteAddr, c.RemotePort));
        Assert.Equal((address.ToString(), port), (s.LocalAddr, s.LocalPort));
        Assert.Equal((c.LocalAddr, c.LocalPort), (s.RemoteAddr, s.RemotePort));
    }
}
