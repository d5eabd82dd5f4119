using System.Globalization;
using System.Net;
using FlowMesh.SystemTests.Harness;

namespace FlowMesh.SystemTests;

/// <summary>Nothing is lost without being counted: with a tiny ring and a slow reader, records seen + drops = events generated.</summary>
public sealed class RingOverflowTests
{
    private const int Connections = 400;
    private const int EventsPerConnection = 11; // 5 transitions per end (see LoopbackLifecycleTests.Client_closes_first) and the server's accept()

    [Fact]
    public async Task A_connection_storm_into_a_tiny_ring_is_fully_accounted_for()
    {
        var port = Sockets.FreePort(IPAddress.Loopback);
        // One page per CPU, never woken early, polled once a second: the storm must overflow it.
        await using var capture = await CaptureProcess.StartAsync(
            "--port", $"{port}", "--ring-size", "4096", "--wakeup-bytes", "0", "--poll-ms", "1000", "--no-existing");
        var listener = Sockets.Listen(IPAddress.Loopback, port);
        for (var i = 0; i < Connections; i++)
        {
            var (client, server) = Sockets.Connect(listener);
            Sockets.CloseClientFirst(client, server);
        }
        listener.Close();
        await WaitUntilNoLiveSocketOn(port);

        var (exitCode, summary) = await capture.StopAsync();
        Assert.Equal(0, exitCode);
        var records = summary.GetProperty("records").GetInt64();
        var drops = summary.GetProperty("drops").GetInt64();
        var expected = Connections * EventsPerConnection + 2; // + the listener's CLOSE->LISTEN and LISTEN->CLOSE
        Assert.Equal(0, summary.GetProperty("decodeErrors").GetInt64());
        Assert.True(drops > 0, $"the storm should overflow a 4 KiB ring (records {records})");
        Assert.Equal(expected, records + drops);
        Assert.Equal(records, capture.Events.Count);
        var perCpu = summary.GetProperty("cpus").EnumerateArray().ToList();
        Assert.Equal(records, perCpu.Sum(c => c.GetProperty("records").GetInt64()));
        Assert.Equal(drops, perCpu.Sum(c => c.GetProperty("drops").GetInt64()));
    }

    /// <summary>Every connection on the port has reached TIME_WAIT or gone (/proc/net/tcp), so every transition has happened.</summary>
    private static async Task WaitUntilNoLiveSocketOn(int port)
    {
        var hexPort = port.ToString("X4", CultureInfo.InvariantCulture);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var live = File.ReadLines("/proc/net/tcp").Skip(1)
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Count(f => (f[1].EndsWith(":" + hexPort, StringComparison.Ordinal) || f[2].EndsWith(":" + hexPort, StringComparison.Ordinal)) && f[3] != "06");
            if (live == 0)
                return;
            if (DateTime.UtcNow > deadline)
                throw new Xunit.Sdk.XunitException($"{live} sockets on port {port} still not closed");
            await Task.Delay(20);
        }
    }
}
