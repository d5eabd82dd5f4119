using System.Text.Json;
using System.Text.RegularExpressions;
using FlowMesh.SystemTests.Harness;
using FlowMesh.TestSupport;

namespace FlowMesh.SystemTests;

/// <summary>
/// The README's main command, <c>run-local.sh</c>, end to end: the fleet it starts (real
/// namespaces, Nodes, Aggregator, Redis and workloads) as seen through the gateway, and
/// what it leaves behind after a normal stop, a Ctrl-C during start-up and a failed start.
/// </summary>
public sealed partial class LocalFleetTests
{
    /// <summary>Long enough to build from scratch on a 2-core machine (later runs take seconds).</summary>
    private static readonly TimeSpan StartDeadline = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    /// <summary>Ample for the checks below, which take seconds, on a slow machine too.</summary>
    private const int Duration = 60;

    // The workload run-local.sh starts with --hosts 3 (see start_traffic there): every
    // process in a cgroup named like a systemd unit, so edges name units at both ends.
    private const string Web = "web.service:8000";
    private const string AppRedis = "redis.service:6379";
    private const string WebAddress = "10.99.0.1:8000";
    private const string ClosedPort = "10.99.0.2:81";
    private const string KeepAlive = "web-keepalive.service>" + Web;
    private const string Linger = "linger-client.service>" + Web;
    private const string Bench = "redis-bench.service>" + AppRedis;

    [Fact]
    public async Task ThreeHostsJoinSessionsAcrossHostsByTagAndLeaveNothingBehind()
    {
        KernelTestRequirements.Require();
        Assert.Empty(LocalFleetScript.Leftovers());
        var port = LoopbackPort.Free();
        await using var script = LocalFleetScript.Start(["--hosts", "3", "--duration", $"{Duration}", "--port", $"{port}", "--interval", "2"]);
        await script.WaitForLineAsync(RunningLine(), StartDeadline);
        var redisPort = await RedisPortAsync(script);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };

        // The printed commands name a real session and its real client flow.
        // The printed commands name a real session joined across two hosts, and its client flow.
        var shownSession = (await script.WaitForLineAsync(SessionCommandLine(), Deadline)).Groups["id"].Value;
        var session = await http.GetJsonAsync($"/api/sessions/{shownSession}");
        Assert.Equal("tag", session.GetProperty("join").GetString());
        Assert.NotEqual(session.GetProperty("client").GetProperty("host").GetString(), session.GetProperty("server").GetProperty("host").GetString());
        var shownFlow = (await script.WaitForLineAsync(FlowCommandLine(), Deadline)).Groups["id"].Value;
        Assert.Equal(session.GetProperty("client").GetProperty("flowId").GetString(), shownFlow);
        var flow = await http.GetJsonAsync($"/api/flows/{shownFlow}");
        Assert.Equal(("client", session.GetProperty("traceTag").GetString()), (flow.GetProperty("role").GetString(), flow.GetProperty("traceTag").GetString()));

        // A second run while this one runs says so and changes nothing.
        await using (var second = LocalFleetScript.Start(["--no-build", "--port", $"{LoopbackPort.Free()}"]))
        {
            Assert.Equal(1, await second.WaitForExitAsync(Deadline));
            Assert.Contains("a local fleet is already running", second.Output, StringComparison.Ordinal);
        }

        // Every edge of the workload, with a connect P99 for each that completes handshakes,
        // and the refused connects counted as errors.
        var edges = await WaitForJsonAsync(http, "/api/edges?window=5m", e => EdgesSeen(e).IsSupersetOf(
            [KeepAlive, "web-churn.service>" + Web, Linger, Bench, "refused-probe.service>" + ClosedPort]) && e.EnumerateArray().All(x =>
                x.GetProperty("server").GetString() == ClosedPort || x.GetProperty("p99Ms").ValueKind == JsonValueKind.Number),
            "the workload's edges, each with a P99");
        foreach (var edge in edges.EnumerateArray())
        {
            var name = edge.GetProperty("edge").GetString()!;
            if (edge.GetProperty("server").GetString() == ClosedPort)
            {
                Assert.True(edge.GetProperty("errors").GetInt64() >= 1, $"{name}: refused connects are errors");
                Assert.Equal(edge.GetProperty("sessions").GetInt64(), edge.GetProperty("errors").GetInt64());
            }
            else
            {
                Assert.True(edge.GetProperty("p99Ms").GetDouble() > 0, $"{name} has a P99");
                Assert.True(edge.GetProperty("tags").GetProperty("survived").GetInt64() >= 1, $"{name}: tags came back");
            }
        }

        // The same edges on /metrics, as Prometheus would scrape them (PrometheusTests runs a real one).
        var metrics = await http.GetStringAsync("/metrics");
        foreach (var edge in new[] { KeepAlive, "web-churn.service>" + Web, Linger, Bench, "refused-probe.service>" + ClosedPort })
        {
            var at = edge.LastIndexOf('>');
            Assert.Matches($"(?m)^flowmesh_edge_sessions_total{{client=\"{Regex.Escape(edge[..at])}\",server=\"{Regex.Escape(edge[(at + 1)..])}\"}} [1-9]", metrics);
        }
        Assert.Matches($"(?m)^flowmesh_edge_errors_total{{client=\"refused-probe.service\",server=\"{Regex.Escape(ClosedPort)}\",kind=\"refused\"}} [1-9]", metrics);

        // Sessions joined by tag across hosts: each client on the host whose address it used,
        // each server on the host that runs it, the same bytes seen at both ends.
        var sessions = new List<JsonElement>();
        foreach (var edge in new[] { KeepAlive, Linger, Bench })
        {
            sessions.AddRange((await http.GetJsonAsync($"/api/sessions?join=tag&closed=true&limit=200&edge={Uri.EscapeDataString(edge)}"))
                .GetProperty("items").EnumerateArray());
        }
        var crossHost = sessions.Select(s => (
            Edge: s.GetProperty("edge").GetString()!,
            Client: s.GetProperty("client").GetProperty("host").GetString()!,
            Server: s.GetProperty("server").GetProperty("host").GetString()!,
            ClientAddress: s.GetProperty("client").GetProperty("address").GetString()!,
            Session: s)).ToList();
        Assert.All(crossHost, s =>
        {
            Assert.NotEqual(s.Client, s.Server);
            Assert.Equal($"10.99.0.{s.Client["host-".Length..]}", s.ClientAddress);
            Assert.Equal(s.Session.GetProperty("id").GetString(), "tag:" + s.Session.GetProperty("traceTag").GetString());
            Assert.False(s.Session.GetProperty("bytesMismatch").GetBoolean(), $"{s.Session.GetProperty("id")}: bytes differ between the sides");
        });
        Assert.Equal(["host-2", "host-3"], HostsOf(crossHost.Where(s => s.Edge == KeepAlive).Select(s => (s.Client, s.Server)), "host-1"));
        Assert.Equal(["host-1", "host-3"], HostsOf(crossHost.Where(s => s.Edge == Bench).Select(s => (s.Client, s.Server)), "host-2"));
        Assert.All(crossHost.Where(s => s.Edge == Linger), s => Assert.Equal("client", s.Session.GetProperty("reset").GetString()));
        Assert.Contains(crossHost, s => s.Edge == Linger);
        // Each end is named by its own host. The truth is the cgroup the script put each
        // server in, read here from /proc (the servers live as long as the fleet), and the
        // client's process name, which the address form keeps.
        Assert.All(crossHost, s =>
        {
            var server = s.Session.GetProperty("server");
            var unit = s.Edge == Bench ? "redis.service" : "web.service";
            Assert.Contains($"/fm-local.slice/{unit}", File.ReadAllText($"/proc/{server.GetProperty("pid").GetInt32()}/cgroup"), StringComparison.Ordinal);
            Assert.Equal(unit, server.GetProperty("workload").GetProperty("unit").GetString());
            Assert.Equal(s.Edge[..s.Edge.IndexOf('>', StringComparison.Ordinal)], s.Session.GetProperty("client").GetProperty("workload").GetProperty("unit").GetString());
            var comm = s.Edge == Bench ? "redis-benchmark" : s.Edge == Linger ? "python3" : "curl";
            Assert.Equal($"{comm}>{(s.Edge == Bench ? "10.99.0.2:6379" : WebAddress)}", s.Session.GetProperty("addressEdge").GetString());
        });

        // Drops are reported: per member and in total, by the gateway and on the summary lines.
        var cluster = await http.GetJsonAsync("/api/cluster");
        var members = cluster.GetProperty("members").EnumerateArray().ToList();
        Assert.Equal(["host-1", "host-2", "host-3"], members.Where(m => m.GetProperty("role").GetString() == "node").Select(m => m.GetProperty("hostId").GetString()!).Order());
        Assert.All(members, m => Assert.True(m.GetProperty("healthy").GetBoolean(), $"{m.GetProperty("hostId")} is healthy"));
        // A light load: nothing may be lost, on any host.
        Assert.All(members, m => Assert.Equal(0, m.GetProperty("drops").GetInt64()));
        Assert.Equal(0, cluster.GetProperty("totalDrops").GetInt64());
        await script.WaitForLineAsync(SummaryLine(), Deadline);
        var summaries = script.Lines.Select(l => SummaryLine().Match(l)).Where(m => m.Success).ToList();
        Assert.All(summaries, m => Assert.Equal("0", m.Groups["drops"].Value));
        Assert.Contains(summaries, m => long.Parse(m.Groups["tag"].Value, System.Globalization.CultureInfo.InvariantCulture) > 0);

        // The end of --duration removes everything.
        Assert.Equal(0, await script.WaitForExitAsync(TimeSpan.FromSeconds(Duration + 90)));
        Assert.Matches("stopped: no namespace", script.Lines[^1]);
        Assert.Empty(LocalFleetScript.Leftovers(port, redisPort));
    }

    [Fact]
    public async Task CtrlCDuringStartUpRemovesWhatWasMade()
    {
        KernelTestRequirements.Require();
        var port = LoopbackPort.Free();
        await using var script = LocalFleetScript.Start(["--hosts", "2", "--port", $"{port}"]);
        await script.WaitForLineAsync(new Regex("creating 2 hosts on a bridge .* ok"), StartDeadline);
        var redisPort = await RedisPortAsync(script);
        script.Interrupt();
        Assert.Equal(0, await script.WaitForExitAsync(TimeSpan.FromSeconds(90)));
        // Stopped part way through starting: the step it was on says so, and the fleet never came up.
        Assert.True(script.Lines.Any(l => l.EndsWith("... interrupted", StringComparison.Ordinal)),
            $"no step says it was interrupted:\n{string.Join("\n", script.Lines)}");
        Assert.DoesNotContain(script.Lines, l => l.StartsWith("The fleet is up", StringComparison.Ordinal));
        Assert.Empty(LocalFleetScript.Leftovers(port, redisPort));
    }

    [Fact]
    public async Task AFailedStartSaysWhyAndRemovesWhatWasMade()
    {
        KernelTestRequirements.Require();
        var port = LoopbackPort.Free();
        // Settings reach every process through the environment: a ring size the Node refuses.
        await using var script = LocalFleetScript.Start(["--hosts", "2", "--port", $"{port}", "--no-traffic"],
            new Dictionary<string, string> { ["FLOWMESH_NODE__RINGBYTES"] = "1000" });
        Assert.Equal(1, await script.WaitForExitAsync(StartDeadline));
        var redisPort = await RedisPortAsync(script);
        Assert.Contains("creating 2 hosts on a bridge (10.99.0.1-2/24) ... ok", script.Output, StringComparison.Ordinal);
        Assert.Contains("the Node of host-1 exited during start-up", script.Output, StringComparison.Ordinal);
        Assert.Contains("ring buffer size 1000 must be a power of two", script.Output, StringComparison.Ordinal);
        Assert.Empty(LocalFleetScript.Leftovers(port, redisPort));
    }

    [Fact]
    public async Task ARunKilledWithSigkillIsClearedByTheNextRun()
    {
        KernelTestRequirements.Require();
        var port = LoopbackPort.Free();
        int redisPort;
        await using (var killed = LocalFleetScript.Start(["--hosts", "2", "--port", $"{port}"]))
        {
            await killed.WaitForLineAsync(RunningLine(), StartDeadline);
            redisPort = await RedisPortAsync(killed);
            await killed.KillScriptAsync();
        }
        // Everything it started is still there: namespaces, Nodes, Aggregator, Redis (which
        // renames itself), workloads, its directory, its gateway port.
        var left = LocalFleetScript.Leftovers(port, redisPort);
        Assert.Contains(left, l => l.StartsWith("network namespace fm-local-host-1", StringComparison.Ordinal));
        Assert.Contains(left, l => l.Contains("redis-server", StringComparison.Ordinal));
        Assert.Contains($"a listener on 127.0.0.1:{port}", left);

        // The next run (on the same gateway port) removes all of it first, then runs and stops cleanly.
        await using var next = LocalFleetScript.Start(["--hosts", "2", "--port", $"{port}", "--no-traffic", "--no-build", "--duration", "1"]);
        Assert.Equal(0, await next.WaitForExitAsync(StartDeadline));
        Assert.Contains("removed what an earlier run that did not finish had left", next.Output, StringComparison.Ordinal);
        Assert.Empty(LocalFleetScript.Leftovers(port, redisPort, await RedisPortAsync(next)));
    }

    [Fact]
    public async Task BadOptionsAreRefusedWithTheReason()
    {
        foreach (var (args, reason) in new[]
        {
            (new[] { "--hosts", "1" }, "--hosts must be a whole number from 2 to 16"),
            (["--duration", "soon"], "--duration must be a whole number of seconds"),
            (["--port", "70000"], "--port must be a port number"),
            (["--interval", "0"], "--interval must be a whole number of seconds, 1 or more"),
            (["--frobnicate"], "unknown option '--frobnicate'"),
            (["--fault", "flood:host-1"], "unknown kind 'flood' (known: cpu, loss, syn-drop, rate, reset)"),
            (["--fault", "cpu:host-9"], "'host-9' is not one of host-1 to host-3"),
            (["--fault", "loss:host-2"], "loss takes a percentage from 1 to 100"),
            (["--fault", "syn-drop:host-2:150"], "syn-drop takes a percentage from 1 to 100"),
            (["--fault", "rate:host-2:fast"], "rate takes a rate such as 2mbit"),
        })
        {
            await using var script = LocalFleetScript.Start(args);
            Assert.Equal(2, await script.WaitForExitAsync(Deadline));
            Assert.Contains(reason, script.Output, StringComparison.Ordinal);
        }
        await using var help = LocalFleetScript.Start(["--help"]);
        Assert.Equal(0, await help.WaitForExitAsync(Deadline));
        Assert.Contains("Usage: sudo ./run-local.sh", help.Output, StringComparison.Ordinal);
        foreach (var flag in new[] { "--hosts N", "--duration SECONDS", "--port P", "--no-traffic", "--fault KIND:HOST[:VALUE]" })
            Assert.Contains(flag, help.Output, StringComparison.Ordinal);
    }

    private static async Task<int> RedisPortAsync(LocalFleetScript script) =>
        int.Parse((await script.WaitForLineAsync(RedisLine(), Deadline)).Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture);

    private static HashSet<string> EdgesSeen(JsonElement edges) =>
        edges.EnumerateArray().Select(e => e.GetProperty("edge").GetString()!).ToHashSet();

    /// <summary>The client hosts of some sessions, after checking each server is <paramref name="server"/>.</summary>
    private static string[] HostsOf(IEnumerable<(string Client, string Server)> sessions, string server)
    {
        var list = sessions.ToList();
        Assert.All(list, s => Assert.Equal(server, s.Server));
        return [.. list.Select(s => s.Client).Distinct().Order()];
    }

    private static Task<JsonElement> WaitForJsonAsync(HttpClient http, string path, Func<JsonElement, bool> condition, string what) =>
        ClusterClient.WaitForAsync(() => http.GetJsonAsync(path), condition, what, Deadline);

    [GeneratedRegex(@"running (for \d+ s|until Ctrl-C)")]
    private static partial Regex RunningLine();

    [GeneratedRegex(@"redis-server for cluster state on 127\.0\.0\.1:(?<port>\d+)")]
    private static partial Regex RedisLine();

    [GeneratedRegex(@"/api/sessions/(?<id>tag:[0-9a-f]{16})\b")]
    private static partial Regex SessionCommandLine();

    [GeneratedRegex(@"/api/flows/(?<id>host-\d+/\d+)\b")]
    private static partial Regex FlowCommandLine();

    [GeneratedRegex(@"sessions \d+ \(tag (?<tag>\d+), isn \d+, tuple \d+, one-sided \d+\) \| P99 connect \(1m\): .+ \| resets and refused: \d+ \| drops (?<drops>\d+)$")]
    private static partial Regex SummaryLine();
}
