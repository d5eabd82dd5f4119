using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowMesh.SystemTests.Harness;
using FlowMesh.TestSupport;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace FlowMesh.SystemTests;

/// <summary>
/// Anomalies found in real traffic between two hosts under faults injected the way
/// <c>run-local.sh --fault</c> does (the same nftables rules, in the host's namespace):
/// each host runs a redis-server, and loops of redis-cli on each host make a new
/// connection per request to the other host's, so there are two edges, one towards each host.
/// </summary>
public sealed class AnomalyTests(ITestOutputHelper output)
{
    private const string RedisCli = "/usr/bin/redis-cli";
    private const int LoopsPerEdge = 3;
    private static readonly TimeSpan Deadline = SessionFleet.Deadline;

    /// <summary>
    /// 30% of the SYNs to host-b's servers dropped for 30 s. The truth is the wire on host-a:
    /// a connection whose SYN was sent twice or more waited out a SYN retransmission (1 s).
    /// Connect anomalies must name those connections (precision) and all of them (recall),
    /// on the edge to host-b only, the first within 20 s of the fault.
    /// </summary>
    [Fact]
    public async Task Dropped_SYNs_to_one_host_are_connect_anomalies_on_exactly_its_edge_with_precision_and_recall_of_95_percent()
    {
        RequireRedisCli();
        WireCapture.Require();
        var (portA, portB) = (LoopbackPort.Free(), LoopbackPort.Free());
        var directory = Directory.CreateTempSubdirectory("flowmesh-anomaly-");
        try
        {
            using var hosts = TwoHosts.Create();
            await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, [portA, portB], injectTag: false, null);
            await using var capture = await WireCapture.StartAsync(hosts.A, "host-a", hosts.InterfaceA, Path.Combine(directory.FullName, "host-a.pcap"), [portB]);
            await using var serverA = await NamespaceServers.RedisAsync(hosts.A, "redis-server on host-a", hosts.AddressA, portA, directory.FullName);
            await using var serverB = await NamespaceServers.RedisAsync(hosts.B, "redis-server on host-b", hosts.AddressB, portB, directory.FullName);
            var (toB, toA) = ($"redis-cli>{hosts.AddressB}:{portB}", $"redis-cli>{hosts.AddressA}:{portA}");

            // Both edges learn their baselines first (20 sessions each at least), then the fault.
            var warm = TimeSpan.FromSeconds(6);
            var fault = TimeSpan.FromSeconds(30);
            var loads = Loads(hosts, portA, portB, warm + fault + TimeSpan.FromSeconds(2));
            await WaitForSessionsAsync(fleet, 3 * 20, warm * 2);
            var faultStart = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            hosts.B.Exec("nft", $"add table inet fm_fault {{ chain in {{ type filter hook input priority 0; tcp flags & (syn | ack) == syn numgen random mod 100 < 30 drop; }}; }}");
            await Task.WhenAll(loads);
            hosts.B.Exec("nft", "delete table inet fm_fault");
            var faultEnd = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            // The sessions settle first: by then the wire is quiet, and the capture ends with nothing in flight.
            await WaitForSettledAsync(fleet);
            var stats = await capture.StopAsync();
            Assert.True(stats.Complete, $"the wire's account is incomplete, so it is no truth to test against: {stats}");

            // The truth: each connection to host-b by (client port, ISN), and whether its SYN went more than once.
            var syns = (await capture.ReadAsync()).Where(p => p.Syn && !p.HasAck && p.DestinationPort == portB)
                .GroupBy(p => (p.SourcePort, p.Seq!.Value)).ToDictionary(g => g.Key, g => g.Count());
            var delayedOnWire = syns.Where(s => s.Value >= 2).Select(s => s.Key).ToHashSet();

            var sessions = (await fleet.StoredSessionsAsync()).Where(s => s.Client is { IsnKnown: true }).ToList();
            var connectionOf = sessions.ToDictionary(s => s.Id, s => ((int)s.Client.LocalPort, s.Client.IsnLocal));
            using var http = new HttpClient { BaseAddress = fleet.Aggregator.GatewayUrl };
            var anomalies = await AnomaliesAsync(http, "metric=connect&anomalyKind=session");

            var flagged = anomalies.Where(a => a.GetProperty("sessionId").GetString() is { } id && connectionOf.ContainsKey(id))
                .Select(a => (Edge: a.GetProperty("edge").GetString()!, Connection: connectionOf[a.GetProperty("sessionId").GetString()!], UnixMs: a.GetProperty("unixMs").GetInt64()))
                .ToList();
            var truePositives = flagged.Count(f => f.Edge == toB && delayedOnWire.Contains(f.Connection));
            var elsewhere = flagged.Count(f => f.Edge != toB);
            // Only the delayed connections the fleet has a session for can be found; the rest are counted as missed all the same.
            var precision = flagged.Count == 0 ? 0 : (double)truePositives / flagged.Count;
            var recall = delayedOnWire.Count == 0 ? 0 : (double)truePositives / delayedOnWire.Count;
            var first = flagged.Where(f => f.Edge == toB).Select(f => f.UnixMs).DefaultIfEmpty(long.MaxValue).Min();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"syn-drop 30% for {(faultEnd - faultStart) / 1000.0:0.#} s: {syns.Count} connections to host-b on the wire, {delayedOnWire.Count} with a SYN retransmission; "
                + $"{flagged.Count} connect anomalies ({elsewhere} elsewhere), {truePositives} true; precision {precision:0.000}, recall {recall:0.000}; "
                + $"first {(first - faultStart) / 1000.0:0.#} s after the fault began; {sessions.Count} sessions"));

            var byConnection = sessions.GroupBy(s => ((int)s.Client.LocalPort, s.Client.IsnLocal)).ToDictionary(g => g.Key, g => g.First());
            var flaggedConnections = flagged.Select(f => f.Connection).ToHashSet();
            foreach (var missed in delayedOnWire.Where(c => !flaggedConnections.Contains(c)).Take(10))
            {
                output.WriteLine(byConnection.TryGetValue(missed, out var s)
                    ? $"missed: {missed} session {s.Id} connect {s.ConnectMs} ms, end {s.EndUnixMs - faultStart} ms after the fault began, join {s.Join}"
                    : $"missed: {missed} has no stored session");
            }
            Assert.True(delayedOnWire.Count >= 10, $"only {delayedOnWire.Count} connections met a dropped SYN: the fault tested nothing");
            Assert.Equal(0, elsewhere);
            Assert.True(precision >= 0.95, $"precision {precision:0.000}");
            Assert.True(recall >= 0.95, $"recall {recall:0.000}");
            Assert.True(first - faultStart <= 20_000, $"the first anomaly came {(first - faultStart) / 1000.0:0.#} s after the fault began");
            Assert.DoesNotContain(anomalies, a => a.GetProperty("edge").GetString() == toA);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>
    /// 5% of host-b's packets dropped both ways: retransmission anomalies, and clusters of them
    /// that name host-b, and none that does not. Connections inside host-a (to its own server,
    /// never over host-b's link) are the control: none of them may be an anomaly.
    /// </summary>
    [Fact]
    public async Task Packet_loss_on_one_host_makes_retransmission_anomalies_and_a_cluster_naming_that_host()
    {
        RequireRedisCli();
        var (portA, portB) = (LoopbackPort.Free(), LoopbackPort.Free());
        var directory = Directory.CreateTempSubdirectory("flowmesh-anomaly-");
        try
        {
            using var hosts = TwoHosts.Create();
            await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, [portA, portB], injectTag: false, null);
            await using var serverA = await NamespaceServers.RedisAsync(hosts.A, "redis-server on host-a", hosts.AddressA, portA, directory.FullName);
            await using var serverB = await NamespaceServers.RedisAsync(hosts.B, "redis-server on host-b", hosts.AddressB, portB, directory.FullName);
            var warm = TimeSpan.FromSeconds(6);
            var loads = Loads(hosts, portA, portB, warm + TimeSpan.FromSeconds(20));
            loads.Add(NamespaceProgram.RunAsync(hosts.A, "redis-cli loop inside host-a", warm + TimeSpan.FromSeconds(50), "bash", "-c",
                Loop(hosts.AddressA, portA, warm + TimeSpan.FromSeconds(20))));
            await WaitForSessionsAsync(fleet, 3 * 20, warm * 2);
            hosts.B.Exec("nft", "add table inet fm_fault { chain in { type filter hook input priority 0; numgen random mod 100 < 5 drop; }; "
                + "chain out { type filter hook output priority 0; numgen random mod 100 < 5 drop; }; }");
            using var http = new HttpClient { BaseAddress = fleet.Aggregator.GatewayUrl };
            try
            {
                // A clustering pass every 10 s (Anomalies:ClusterSeconds) over the last two minutes.
                var clusters = await ClusterClient.WaitForAsync(() => http.GetJsonAsync("/api/anomalies/clusters"),
                    c => c.GetProperty("clusters").EnumerateArray().Any(x => Names(x, "host-b") && x.GetProperty("metrics").EnumerateArray().Any(m => m.GetString() == "retransmissions")),
                    "a cluster of retransmission anomalies naming host-b", TimeSpan.FromSeconds(45));
                var retransmissions = await AnomaliesAsync(http, "metric=retransmissions");
                foreach (var c in clusters.GetProperty("clusters").EnumerateArray())
                    output.WriteLine($"cluster: {c.GetProperty("summary").GetString()}");
                output.WriteLine($"{retransmissions.Count} retransmission anomalies");
                Assert.True(retransmissions.Count >= 5, $"{retransmissions.Count} retransmission anomalies");
                var inside = await AnomaliesAsync(http, "host=host-a");
                Assert.DoesNotContain(inside, a => a.GetProperty("clientHost").GetString() == "host-a" && a.GetProperty("serverHost").GetString() == "host-a");
                Assert.All(retransmissions, a => Assert.True(a.GetProperty("clientHost").GetString() == "host-b" || a.GetProperty("serverHost").GetString() == "host-b"));
                Assert.All(clusters.GetProperty("clusters").EnumerateArray(), c => Assert.True(Names(c, "host-b"), $"a cluster that does not name host-b: {c}"));
            }
            finally
            {
                hosts.B.Exec("nft", "delete table inet fm_fault");
                await Task.WhenAll(loads);
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static bool Names(JsonElement cluster, string host) =>
        cluster.GetProperty("clientHost").GetString() == host || cluster.GetProperty("serverHost").GetString() == host;

    /// <summary>Loops of redis-cli, a new connection per request, from each host to the other's server, for <paramref name="length"/>.</summary>
    private static List<Task<IReadOnlyList<string>>> Loads(TwoHosts hosts, int portA, int portB, TimeSpan length)
    {
        var loads = new List<Task<IReadOnlyList<string>>>();
        for (var i = 0; i < LoopsPerEdge; i++)
        {
            loads.Add(NamespaceProgram.RunAsync(hosts.A, "redis-cli loop on host-a", length + TimeSpan.FromSeconds(30), "bash", "-c", Loop(hosts.AddressB, portB, length)));
            loads.Add(NamespaceProgram.RunAsync(hosts.B, "redis-cli loop on host-b", length + TimeSpan.FromSeconds(30), "bash", "-c", Loop(hosts.AddressA, portA, length)));
        }
        return loads;
    }

    /// <summary>A shell loop of redis-cli to one server for <paramref name="length"/>; the pause between requests paces it (about 25 connections a second), it waits on nothing.</summary>
    private static string Loop(string address, int port, TimeSpan length) =>
        $"end=$((SECONDS + {((int)Math.Ceiling(length.TotalSeconds)).ToString(CultureInfo.InvariantCulture)})); "
        + $"while ((SECONDS < end)); do {RedisCli} -h {address} -p {port} ping >/dev/null || exit 1; sleep 0.04; done";

    private static Task<long> WaitForSessionsAsync(SessionFleet fleet, long count, TimeSpan deadline) =>
        ClusterClient.WaitForAsync(fleet.StoredSessionCountAsync, n => n >= count, $"{count} sessions stored", deadline);

    /// <summary>Until the stored sessions hold still for 3 s (every side closed and joined).</summary>
    private static async Task WaitForSettledAsync(SessionFleet fleet)
    {
        var clock = Stopwatch.StartNew();
        var (last, since) = (-1L, Stopwatch.StartNew());
        while (clock.Elapsed < Deadline)
        {
            var n = await fleet.StoredSessionCountAsync();
            if (n != last)
                (last, since) = (n, Stopwatch.StartNew());
            else if (since.Elapsed >= TimeSpan.FromSeconds(3))
                return;
            await Task.Delay(200);
        }
        throw new XunitException($"the stored sessions kept changing for {Deadline.TotalSeconds} s");
    }

    /// <summary>Every anomaly the API lists for the query, all pages.</summary>
    private static async Task<List<JsonElement>> AnomaliesAsync(HttpClient http, string query)
    {
        var all = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = await http.GetJsonAsync($"/api/anomalies?{query}&limit=1000{(cursor is null ? "" : "&cursor=" + cursor)}");
            all.AddRange(page.GetProperty("items").EnumerateArray());
            cursor = page.TryGetProperty("next", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
        }
        while (cursor is not null);
        return all;
    }

    private static void RequireRedisCli()
    {
        if (!File.Exists(RedisCli))
            throw new XunitException($"these tests load the fleet with redis-cli; {RedisCli} is missing: install Debian's redis-tools (scripts/install-deps.sh does)");
    }
}
