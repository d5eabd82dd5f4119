using System.Net;
using System.Net.Sockets;
using FlowMesh.SystemTests.Harness;

namespace FlowMesh.SystemTests;

/// <summary>
/// Two "hosts" (network namespaces made by the test) joined by a veth pair: each
/// capture sees only its own host, and a truly simultaneous close is produced by
/// holding both FINs in a rate-limited qdisc so they cross.
/// </summary>
public sealed class NamespaceTests
{
    [Fact]
    public async Task Each_host_sees_only_its_own_end_of_a_cross_host_connection()
    {
        using var hosts = TwoHosts.Create();
        var (hostA, hostB, addressA, addressB) = (hosts.A, hosts.B, hosts.AddressA, hosts.AddressB);
        const int Port = 8080;

        await using var captureA = await CaptureProcess.StartAsync("--netns", hostA.Name, "--port", $"{Port}");
        await using var captureB = await CaptureProcess.StartAsync("--netns", hostB.Name, "--port", $"{Port}");
        using var listener = hostB.Inside(() => Sockets.Listen(IPAddress.Parse(addressB), Port));
        using var client = hostA.Inside(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        client.Connect(IPAddress.Parse(addressB), Port);
        var server = listener.Accept();
        var (c, s) = (Sockets.Cookie(client), Sockets.Cookie(server));
        var request = Sockets.Pattern(20_000, 3);
        Sockets.SendAll(client, request);
        Assert.Equal(request, Sockets.ReceiveExactly(server, request.Length));

        Sockets.CloseClientFirst(client, server);
        await captureA.WaitClosedAsync(c);
        await captureB.WaitClosedAsync(s);

        Assert.Equal(["CLOSE->SYN_SENT", "SYN_SENT->ESTABLISHED", "ESTABLISHED->FIN_WAIT1", "FIN_WAIT1->FIN_WAIT2", "FIN_WAIT2->CLOSE"], captureA.StepsOf(c));
        Assert.Equal(["LISTEN->SYN_RECV", "SYN_RECV->ESTABLISHED", "ESTABLISHED->CLOSE_WAIT", "CLOSE_WAIT->LAST_ACK", "LAST_ACK->CLOSE"], captureB.StepsOf(s));
        Assert.DoesNotContain(captureA.Events, e => e.Cookie == s || e.Cookie == Sockets.Cookie(listener));
        Assert.DoesNotContain(captureB.Events, e => e.Cookie == c);
        Assert.Single(captureA.Events.Select(e => e.Netns).Distinct());
        Assert.Single(captureB.Events.Select(e => e.Netns).Distinct());
        Assert.NotEqual(captureA.Events[0].Netns, captureB.Events[0].Netns);

        var clientSide = captureA.Of(c).First(e => e.NewState == "TCP_ESTABLISHED");
        var serverSide = captureB.Of(s).First(e => e.NewState == "TCP_ESTABLISHED");
        Assert.Equal((addressA, addressB, Port), (clientSide.LocalAddr, clientSide.RemoteAddr, clientSide.RemotePort));
        Assert.Equal((addressB, addressA, Port), (serverSide.LocalAddr, serverSide.RemoteAddr, serverSide.LocalPort));
        Assert.Equal((clientSide.IsnLocal, clientSide.IsnRemote), (serverSide.IsnRemote, serverSide.IsnLocal));
        Assert.Equal((ulong)request.Length, captureA.Of(c)[^1].BytesAcked);
        Assert.Equal((ulong)request.Length, captureB.Of(s)[^1].BytesReceived);
    }

    [Fact]
    public async Task Both_ends_closing_at_once_pass_through_CLOSING()
    {
        using var hosts = TwoHosts.Create();
        var (hostA, hostB, addressB) = (hosts.A, hosts.B, hosts.AddressB);
        const int Port = 9090;

        await using var capture = await CaptureProcess.StartAsync("--netns", "all", "--port", $"{Port}");
        using var listener = hostB.Inside(() => Sockets.Listen(IPAddress.Parse(addressB), Port));
        using var client = hostA.Inside(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        client.Connect(IPAddress.Parse(addressB), Port);
        using var server = listener.Accept();
        var (c, s) = (Sockets.Cookie(client), Sockets.Cookie(server));

        // Each side's FIN queues behind data that the token bucket lets out over ~0.1 s,
        // so both FINs are in flight at once: each arrives while the receiver's own FIN
        // is still unacknowledged, which is what a simultaneous close is.
        foreach (var (host, device) in new[] { (hostA, Device(hostA)), (hostB, Device(hostB)) })
            host.Exec("tc", "qdisc", "add", "dev", device, "root", "tbf", "rate", "1mbit", "burst", "2000", "latency", "5s");
        var payload = Sockets.Pattern(14_000, 4);
        Sockets.SendAll(client, payload);
        Sockets.SendAll(server, payload);
        client.Shutdown(SocketShutdown.Send);
        server.Shutdown(SocketShutdown.Send);
        await capture.WaitClosedAsync(c, s);

        string[] simultaneous = ["ESTABLISHED->FIN_WAIT1", "FIN_WAIT1->CLOSING", "CLOSING->CLOSE"];
        Assert.Equal(["CLOSE->SYN_SENT", "SYN_SENT->ESTABLISHED", .. simultaneous], StatesOf(capture, c));
        Assert.Equal(["LISTEN->SYN_RECV", "SYN_RECV->ESTABLISHED", .. simultaneous], StatesOf(capture, s));
        Assert.Equal(payload, Sockets.ReceiveExactly(server, payload.Length));
        Assert.Equal(payload, Sockets.ReceiveExactly(client, payload.Length));
        LoopbackLifecycleTests.AssertBytes(capture, c, sent: payload.Length, received: payload.Length);
        LoopbackLifecycleTests.AssertBytes(capture, s, sent: payload.Length, received: payload.Length);
    }

    /// <summary>Transitions only: a slow link may add retransmissions, which are not what this test is about.</summary>
    private static List<string> StatesOf(CaptureProcess capture, ulong cookie) =>
        capture.Of(cookie).Where(e => e.Event == "state").Select(e => e.Step).ToList();

    private static string Device(TestNamespace host)
    {
        var info = new System.Diagnostics.ProcessStartInfo("ip") { RedirectStandardOutput = true };
        foreach (var a in new[] { "-n", host.Name, "-o", "link", "show", "type", "veth" })
            info.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(info)!;
        var line = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        // "2: fma1234@if3: <...>" -> fma1234
        return line.Split(':')[1].Trim().Split('@')[0];
    }
}
