using System.Net;
using FlowMesh.SystemTests.Harness;

namespace FlowMesh.SystemTests;

/// <summary>Sockets that existed before the capture started: listed at start, marked mid-life, and followed afterwards.</summary>
public sealed class MidLifeTests
{
    [Fact]
    public async Task A_listener_and_a_connection_opened_before_capture_are_followed()
    {
        using var listener = Sockets.Listen(IPAddress.Loopback);
        var port = Sockets.Port(listener);
        var (oldClient, oldServer) = Sockets.Connect(listener);
        var (l, oc, os) = (Sockets.Cookie(listener), Sockets.Cookie(oldClient), Sockets.Cookie(oldServer));

        await using var capture = await CaptureProcess.StartAsync("--port", $"{port}");
        var existing = await capture.WaitForAsync(es => es.Count(e => e.Event == "existing") == 3, "the three sockets open at start");
        Assert.Equal(
            new[] { (l, "TCP_LISTEN"), (oc, "TCP_ESTABLISHED"), (os, "TCP_ESTABLISHED") }.OrderBy(x => x.Item1),
            existing.Where(e => e.Event == "existing").Select(e => (e.Cookie, e.NewState)).OrderBy(x => x.Cookie));
        Assert.All(existing, e => Assert.True(e.MidLife));

        // A new connection through the old listener is a whole, fresh lifecycle.
        var (client, server) = Sockets.Connect(listener);
        var (c, s) = (Sockets.Cookie(client), Sockets.Cookie(server));
        Sockets.CloseClientFirst(client, server);
        await capture.WaitClosedAsync(c, s);
        Assert.Equal(["LISTEN->SYN_RECV", "SYN_RECV->ESTABLISHED", "ESTABLISHED->CLOSE_WAIT", "CLOSE_WAIT->LAST_ACK", "LAST_ACK->CLOSE"], capture.StepsOf(s));
        Assert.All(capture.Of(c).Concat(capture.Of(s)), e => Assert.False(e.MidLife));
        LoopbackLifecycleTests.AssertIsnsAgree(capture, c, s);

        // The connection open at start goes on being followed, still marked mid-life.
        var data = Sockets.Pattern(777, 5);
        Sockets.SendAll(oldServer, data);
        Assert.Equal(data, Sockets.ReceiveExactly(oldClient, data.Length));
        Sockets.CloseClientFirst(oldServer, oldClient); // here the accepted end closes first
        await capture.WaitClosedAsync(oc, os);
        Assert.Equal(["existing@ESTABLISHED", "ESTABLISHED->FIN_WAIT1", "FIN_WAIT1->FIN_WAIT2", "FIN_WAIT2->CLOSE"], capture.StepsOf(os));
        Assert.Equal(["existing@ESTABLISHED", "ESTABLISHED->CLOSE_WAIT", "CLOSE_WAIT->LAST_ACK", "LAST_ACK->CLOSE"], capture.StepsOf(oc));
        Assert.All(capture.Of(oc).Concat(capture.Of(os)), e => Assert.True(e.MidLife));
        // The accepted side's payload is exact; the old client's SYN may still be in its count (see bpf/capture.h).
        LoopbackLifecycleTests.AssertBytes(capture, os, sent: data.Length, received: 0);
        Assert.Equal((ulong)data.Length, capture.Of(oc)[^1].BytesReceived);
    }
}
