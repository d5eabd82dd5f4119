using System.Net;
using FlowMesh.SystemTests.Harness;

namespace FlowMesh.SystemTests;

/// <summary>The trace tag: written into the SYN, echoed in the SYN-ACK, read by the accepting side.</summary>
public sealed class TraceTagTests
{
    [Fact]
    public async Task A_tag_written_in_the_SYN_reaches_a_listener_opened_before_capture_and_comes_back()
    {
        using var listener = Sockets.Listen(IPAddress.Loopback); // before the programs exist
        var port = Sockets.Port(listener);
        await using var capture = await CaptureProcess.StartAsync("--port", $"{port}", "--inject-tag");
        var (client, server) = Sockets.Connect(listener);
        var (c, s) = (Sockets.Cookie(client), Sockets.Cookie(server));
        Sockets.CloseClientFirst(client, server);
        await capture.WaitClosedAsync(c, s);

        var clientClose = capture.Of(c)[^1];
        var serverClose = capture.Of(s)[^1];
        Assert.NotNull(clientClose.Tag);
        Assert.Matches("^[0-9a-f]{16}$", clientClose.Tag);
        Assert.Equal(clientClose.Tag, serverClose.Tag);
        Assert.Equal((true, true, false), (clientClose.TagSent, clientClose.TagEchoed, clientClose.TagReceived));
        Assert.Equal((false, false, true), (serverClose.TagSent, serverClose.TagEchoed, serverClose.TagReceived));
        // Known from establishment on: the server reads the tag before its ESTABLISHED event; the
        // client learns of the echo just after its own, and says so in an event of its own.
        Assert.Equal(serverClose.Tag, capture.Of(s).First(e => e.NewState == "TCP_ESTABLISHED").Tag);
        Assert.Equal(
            ["CLOSE->SYN_SENT", "SYN_SENT->ESTABLISHED", "tag-echoed@ESTABLISHED", "ESTABLISHED->FIN_WAIT1", "FIN_WAIT1->FIN_WAIT2", "FIN_WAIT2->CLOSE"],
            capture.StepsOf(c));
        var echo = capture.Of(c).Single(e => e.Event == "tag-echoed");
        Assert.Equal((clientClose.Tag, true, true), (echo.Tag, echo.TagSent, echo.TagEchoed));
        Assert.Equal((clientClose.LocalPort, port), (echo.LocalPort, echo.RemotePort));
        Assert.DoesNotContain(capture.Of(s), e => e.Event == "tag-echoed");
    }

    [Fact]
    public async Task Without_injection_no_tag_is_written_and_each_connection_gets_its_own_tag_with_it()
    {
        using var listener = Sockets.Listen(IPAddress.Loopback);
        var port = Sockets.Port(listener);
        await using (var plain = await CaptureProcess.StartAsync("--port", $"{port}"))
        {
            var (client, server) = Sockets.Connect(listener);
            var (c, s) = (Sockets.Cookie(client), Sockets.Cookie(server));
            Sockets.CloseClientFirst(client, server);
            await plain.WaitClosedAsync(c, s);
            Assert.All(plain.Of(c).Concat(plain.Of(s)), e => Assert.Null(e.Tag));
        }

        await using var tagging = await CaptureProcess.StartAsync("--port", $"{port}", "--inject-tag");
        var tags = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var (client, server) = Sockets.Connect(listener);
            var c = Sockets.Cookie(client);
            Sockets.CloseClientFirst(client, server);
            await tagging.WaitClosedAsync(c);
            tags.Add(tagging.Of(c)[^1].Tag!);
        }
        Assert.Equal(3, tags.Distinct().Count());
    }
}
