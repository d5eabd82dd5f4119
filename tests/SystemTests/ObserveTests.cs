using System.Diagnostics;
using System.Net;
using System.Text.Json;
using FlowMesh.SystemTests.Harness;
using FlowMesh.TestSupport;

namespace FlowMesh.SystemTests;

/// <summary>
/// <c>observe</c> (issue 19) against a real fleet's gateway: it prints the session of a
/// connection the test made, with its filters applied, and with <c>--follow</c> a later one
/// as it settles. The truth is the test's own sockets: their ports and the bytes it sent.
/// </summary>
public sealed class ObserveTests
{
    [Fact]
    public async Task Observe_prints_the_sessions_of_the_tests_connections_filtered_then_follows_new_ones()
    {
        var port = LoopbackPort.Free();
        using var hosts = TwoHosts.Create();
        await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, [port], injectTag: false, null);
        using var listener = hosts.ListenOnB(port);
        var first = Connect(hosts, listener, port, 700, 300);
        var gateway = fleet.Aggregator.GatewayUrl.ToString();
        // Its session settled and stored, as the API lists it.
        await ClusterClient.WaitForAsync(() => fleet.StoredSessionsAsync(), all => all.Any(s => s.Closed && s.Client?.LocalPort == first && s.Server is not null),
            "the first connection's session", SessionFleet.Deadline);

        // The recent ones as JSON lines: exactly the test's connection to this port, with its bytes.
        var (exit, stdout, stderr) = await NodeCommand.RunAsync(NodeCommand.AggregatorStartInfo(
            ["observe", "--gateway", gateway, "--since", "5m", "--json", "--host", "host-a", "--join", "isn"]));
        Assert.True(exit == 0, stderr);
        var mine = Lines(stdout).Where(s => s.GetProperty("serverEndpoint").GetString() == $"{hosts.AddressB}:{port}").ToList();
        var session = Assert.Single(mine);
        Assert.Equal((uint)first, session.GetProperty("client").GetProperty("port").GetUInt32());
        Assert.Equal((700UL, 300UL), (session.GetProperty("bytesClientToServer").GetUInt64(), session.GetProperty("bytesServerToClient").GetUInt64()));
        // A filter that excludes it excludes it.
        (exit, stdout, stderr) = await NodeCommand.RunAsync(NodeCommand.AggregatorStartInfo(
            ["observe", "--gateway", gateway, "--since", "5m", "--json", "--reset", "server"]));
        Assert.True(exit == 0, stderr);
        Assert.DoesNotContain(Lines(stdout), s => s.GetProperty("client").GetProperty("port").GetUInt32() == (uint)first);
        // The table names the hosts and the edge.
        (exit, stdout, stderr) = await NodeCommand.RunAsync(NodeCommand.AggregatorStartInfo(["observe", "--gateway", gateway, "--since", "5m"]));
        Assert.True(exit == 0, stderr);
        Assert.StartsWith("TIME", stdout, StringComparison.Ordinal);
        Assert.Contains(stdout.Split('\n'), l => l.Contains("host-a > host-b", StringComparison.Ordinal) && l.Contains($"{hosts.AddressB}:{port}", StringComparison.Ordinal) && l.Contains("700/300", StringComparison.Ordinal));
        // A bad filter is the gateway's 400, in one line.
        (exit, _, stderr) = await NodeCommand.RunAsync(NodeCommand.AggregatorStartInfo(["observe", "--gateway", gateway, "--join", "psychic"]));
        Assert.Equal(2, exit);
        Assert.Contains("join", stderr, StringComparison.Ordinal);

        // --follow: nothing from before (no --since), then the next connection as it settles.
        var info = NodeCommand.AggregatorStartInfo(["observe", "--gateway", gateway, "--follow", "--json", "--host", "host-a"]);
        using var follow = Process.Start(info)!;
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        follow.OutputDataReceived += (_, e) => { if (e.Data is { } line) lines.Enqueue(line); };
        follow.BeginOutputReadLine();
        try
        {
            await ClusterClient.WaitForAsync(async () => await fleet.AggregatorStatusAsync(), s => s.GetValueOrDefault("stream_clients") >= 1,
                "observe's stream to be open", SessionFleet.Deadline);
            var second = Connect(hosts, listener, port, 50, 5);
            await ClusterClient.WaitForAsync(() => Task.FromResult(lines.Select(l => JsonDocument.Parse(l).RootElement).ToList()),
                seen => seen.Any(s => s.GetProperty("client").GetProperty("port").GetUInt32() == (uint)second && s.GetProperty("closed").GetBoolean()),
                "observe --follow to print the second connection's session", SessionFleet.Deadline);
            Assert.DoesNotContain(lines, l => JsonDocument.Parse(l).RootElement.GetProperty("client").GetProperty("port").GetUInt32() == (uint)first);
        }
        finally
        {
            ProcessControl.Signal(follow, ProcessControl.SigTerm);
            using var stopped = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await follow.WaitForExitAsync(stopped.Token);
        }
        Assert.Equal(0, follow.ExitCode); // SIGTERM ends it cleanly
    }

    /// <summary>One connection from host-a to the listener on host-b: the request's and the response's bytes, client closes first. Returns the client's port.</summary>
    private static int Connect(TwoHosts hosts, System.Net.Sockets.Socket listener, int port, int up, int down)
    {
        var (client, server) = hosts.ConnectAToB(listener, port);
        using (client)
        using (server)
        {
            Sockets.Exchange(client, server, up, down);
            var local = ((IPEndPoint)client.LocalEndPoint!).Port;
            Sockets.CloseClientFirst(client, server);
            return local;
        }
    }

    private static List<JsonElement> Lines(string stdout) =>
        [.. stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
}
