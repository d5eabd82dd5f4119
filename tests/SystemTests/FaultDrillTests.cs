using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.SystemTests.Harness;
using FlowMesh.TestSupport;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace FlowMesh.SystemTests;

/// <summary>
/// Fault drills (issue 13) with real processes: a member of the fleet fails while real
/// clients load it, and what FlowMesh stored plus what it counted as lost must equal
/// the connections the wire shows (tcpdump), exactly.
/// </summary>
public sealed class FaultDrillTests(ITestOutputHelper output)
{
    private const string RedisBenchmark = "/usr/bin/redis-benchmark";
    private const string RedisCli = "/usr/bin/redis-cli";
    private const int Requests = 4000;
    private static readonly TimeSpan LoadDeadline = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan SettleDeadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task An_Aggregator_killed_with_SIGKILL_mid_traffic_loses_no_session()
    {
        WireCapture.Require();
        RequireRedisBenchmark();
        var port = LoopbackPort.Free();
        var directory = Directory.CreateTempSubdirectory("flowmesh-drill-");
        try
        {
            using var hosts = TwoHosts.Create();
            await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, [port], injectTag: false, null, aggregators: 2);
            await ClusterClient.WaitForAsync(() => fleet.Client.StatusAsync(fleet.A), s => s.Members.Count == 4, "host-a to see both Aggregators", SessionFleet.Deadline);
            await ClusterClient.WaitForAsync(() => fleet.Client.StatusAsync(fleet.B), s => s.Members.Count == 4, "host-b to see both Aggregators", SessionFleet.Deadline);
            await using var capture = await WireCapture.StartAsync(hosts.A, "host-a", hosts.InterfaceA, Path.Combine(directory.FullName, "host-a.pcap"), [port]);
            await using var server = await NamespaceServers.RedisAsync(hosts.B, "redis-server on host-b", hosts.AddressB, port, directory.FullName);

            // A new connection per request, from host A to host B, for several seconds.
            // Enough requests that the load outlasts the kill on a fast machine too.
            var load = NamespaceProgram.RunAsync(hosts.A, "redis-benchmark on host-a", LoadDeadline,
                RedisBenchmark, "-h", hosts.AddressB, "-p", $"{port}", "-k", "0", "-c", "8", "-n", $"{2 * Requests}", "-t", "ping_inline", "-q");
            var victim = fleet.Aggregators[1];
            await ClusterClient.WaitForAsync(() => fleet.AggregatorStatusAsync(victim), c => c.GetValueOrDefault("flows_received") >= 500,
                "the second Aggregator to take flows", SessionFleet.Deadline);
            Assert.False(load.IsCompleted, "the load ended before the kill: the drill would test nothing");
            await victim.CrashAsync();
            var printed = await load;
            Assert.True(printed.Any(l => l.Contains("requests per second", StringComparison.Ordinal)), $"redis-benchmark did not finish: {string.Join(" | ", printed)}");

            var (a, b, stored) = await SettleAsync(fleet);
            var stats = await capture.StopAsync();
            Assert.True(stats.Complete, $"the wire's account is incomplete, so it is no truth to test against: {stats}");
            var (wire, _) = WireConnections.FromCapture(capture.Host, await capture.ReadAsync());
            var connections = wire.Where(w => w.HandshakeCompleted).Select(w => w.Key).ToHashSet();

            var sessions = await fleet.StoredSessionsAsync();
            var joined = sessions.Where(s => s.Client is { IsnKnown: true } && s.Server is not null)
                .Select(s => (s.Client.IsnLocal, (uint?)s.Client.IsnRemote)).ToHashSet();
            var survivor = await fleet.AggregatorStatusAsync();
            var lost = a.SessionUndelivered + b.SessionUndelivered + a.SessionUntracked + b.SessionUntracked
                + survivor.GetValueOrDefault("flows_undeliverable");
            var missing = connections.Where(c => !joined.Contains(c)).ToList();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"drill: {connections.Count} connections on the wire, {sessions.Count} sessions stored ({joined.Count} joined, {stored} in the index), "
                + $"{missing.Count} connections without a joined session, {lost} counted lost; resent by host-a {a.SessionResent}, host-b {b.SessionResent}; "
                + $"survivor: flows_resent {survivor.GetValueOrDefault("flows_resent")}, flows_resent_already_stored {survivor.GetValueOrDefault("flows_resent_already_stored")}"));

            Assert.True(connections.Count >= 2 * Requests, $"the wire shows {connections.Count} connections for {2 * Requests} requests");
            Assert.True(a.SessionResent + b.SessionResent > 0, "no flow was sent again, so the kill took nothing the Nodes had to resend: the drill tested nothing");
            Assert.True(missing.Count == 0, $"{missing.Count} of {connections.Count} connections have no joined session (with {lost} counted lost), e.g. {string.Join(", ", missing.Take(5))}");
            Assert.Equal(connections.Count, sessions.Count);
            Assert.Equal(0, lost);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Redis killed and started again empty while real clients connect: what it held is gone
    /// (the test reads every stored session first, with writes paused so none slips by), and
    /// every connection must still end in a joined session, stored before the restart or after
    /// it (the Nodes resend what was never confirmed stored), and the members find each other again.
    /// </summary>
    [Fact]
    public async Task Redis_restarted_empty_mid_traffic_loses_no_session_and_the_cluster_reforms()
    {
        WireCapture.Require();
        RequireRedisBenchmark();
        var port = LoopbackPort.Free();
        var directory = Directory.CreateTempSubdirectory("flowmesh-redis-drill-");
        try
        {
            using var hosts = TwoHosts.Create();
            await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, [port], injectTag: false, null);
            await using var capture = await WireCapture.StartAsync(hosts.A, "host-a", hosts.InterfaceA, Path.Combine(directory.FullName, "host-a.pcap"), [port]);
            await using var server = await NamespaceServers.RedisAsync(hosts.B, "redis-server on host-b", hosts.AddressB, port, directory.FullName);
            var load = NamespaceProgram.RunAsync(hosts.A, "redis-benchmark on host-a", LoadDeadline,
                RedisBenchmark, "-h", hosts.AddressB, "-p", $"{port}", "-k", "0", "-c", "8", "-n", $"{3 * Requests}", "-t", "ping_inline", "-q");
            await ClusterClient.WaitForAsync(fleet.StoredSessionCountAsync, n => n >= 200, "the first sessions to be stored", SessionFleet.Deadline);
            Assert.False(load.IsCompleted, "the load ended before the restart: the drill would test nothing");

            // Writes paused, what Redis holds is read, then it dies with it.
            await fleet.Client.Member.Redis.Database.ExecuteAsync("CLIENT", "PAUSE", "60000", "WRITE");
            var before = await fleet.StoredSessionsAsync();
            await fleet.Redis.KillAsync();
            await fleet.Redis.StartAgainAsync();
            var printed = await load;
            Assert.True(printed.Any(l => l.Contains("requests per second", StringComparison.Ordinal)), $"redis-benchmark did not finish: {string.Join(" | ", printed)}");

            // Every member renews into the empty Redis and sees the others again.
            foreach (var node in new[] { fleet.A, fleet.B })
                await ClusterClient.WaitForAsync(() => fleet.Client.StatusAsync(node), s => s.Members.Count == 3, $"{node.HostId} to see all three members again", SessionFleet.Deadline);
            var (a, b, _) = await SettleAsync(fleet);
            var stats = await capture.StopAsync();
            Assert.True(stats.Complete, $"the wire's account is incomplete, so it is no truth to test against: {stats}");
            var (wire, _) = WireConnections.FromCapture(capture.Host, await capture.ReadAsync());
            var connections = wire.Where(w => w.HandshakeCompleted).Select(w => w.Key).ToHashSet();

            var after = await fleet.StoredSessionsAsync();
            static IEnumerable<(uint, uint?)> Joined(IEnumerable<SessionView> sessions) =>
                sessions.Where(s => s.Client is { IsnKnown: true } && s.Server is not null).Select(s => (s.Client.IsnLocal, (uint?)s.Client.IsnRemote));
            var joined = Joined(before).Concat(Joined(after)).ToHashSet();
            var status = await fleet.AggregatorStatusAsync();
            var lost = a.SessionUndelivered + b.SessionUndelivered + a.SessionUntracked + b.SessionUntracked + status.GetValueOrDefault("flows_undeliverable");
            var missing = connections.Where(c => !joined.Contains(c)).ToList();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"drill: {connections.Count} connections on the wire; {before.Count} sessions stored before the restart, {after.Count} after; "
                + $"{missing.Count} connections without a joined session; resent by host-a {a.SessionResent}, host-b {b.SessionResent}; "
                + $"Aggregator: sessions_not_stored {status.GetValueOrDefault("sessions_not_stored")} (stored later on resend), redis_failures {status.GetValueOrDefault("redis_failures")}; {lost} counted lost"));

            Assert.True(connections.Count >= 3 * Requests, $"the wire shows {connections.Count} connections for {3 * Requests} requests");
            Assert.True(after.Count > 0 && before.Count > 0, "the restart did not fall between stored sessions: the drill tested nothing");
            Assert.True(missing.Count == 0, $"{missing.Count} of {connections.Count} connections have no joined session (with {lost} counted lost), e.g. {string.Join(", ", missing.Take(5))}");
            Assert.Equal(0, lost);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The truth here is the server's own count of the connections it accepted (tcpdump on a
    /// loopback device sees each packet twice and keeps one, so its account cannot be checked
    /// for completeness); both ends of each are in the captured namespace, so two flows each.
    /// </summary>
    [Fact]
    public async Task A_connection_storm_into_a_Node_under_a_memory_limit_is_shed_and_counted_not_an_OOM()
    {
        RequireRedisBenchmark();
        const int Clients = 3000;
        const int MaxLive = 2000;
        const long Limit = 384L << 20;
        var port = LoopbackPort.Free();
        var directory = Directory.CreateTempSubdirectory("flowmesh-storm-");
        try
        {
            using var cgroup = MemoryCgroup.Create("flowmesh-storm", Limit);
            using var host = TestNamespace.Create("storm");
            await using var redis = await LocalRedisServer.StartAsync();
            var cluster = SessionFleet.NewCluster();
            await using var node = await MemberProcess.StartInCgroupAsync("host-a", redis, cluster, ["--netns", host.Name, "--capture-port", $"{port}"],
                new Dictionary<string, string> { ["FLOWMESH_FLOWS__MAXLIVE"] = $"{MaxLive}" }, cgroup);
            await using var client = await ClusterClient.JoinAsync(redis, cluster);
            // The runtime read the limit (it keeps a quarter back for what is not its heap).
            Assert.Contains(node.Log, l => l.Contains($"Following at most {MaxLive} live flows", StringComparison.Ordinal)
                && l.Contains($"may use {Limit * 3 / 4 >> 20} MiB", StringComparison.Ordinal));
            await using var server = await NamespaceServers.RedisAsync(host, "redis-server", "127.0.0.1", port, directory.FullName, "--maxclients", "10000");

            // Every client holds its connection until all requests are done: 6,000 flows open at once, three times the cap.
            var printed = await NamespaceProgram.RunAsync(host, "redis-benchmark", LoadDeadline, "/bin/sh", "-c",
                $"ulimit -n 16384 && exec {RedisBenchmark} -h 127.0.0.1 -p {port} -c {Clients} -n {Clients * 5} -k 1 -t ping_inline -q");
            Assert.True(printed.Any(l => l.Contains("requests per second", StringComparison.Ordinal)), $"redis-benchmark did not finish: {string.Join(" | ", printed)}");

            // The server's count includes the connection that asks for it, which the Node sees as well.
            var info = await NamespaceProgram.RunAsync(host, "redis-cli", LoadDeadline, RedisCli, "-h", "127.0.0.1", "-p", $"{port}", "info", "stats");
            var accepted = long.Parse(info.Single(l => l.StartsWith("total_connections_received:", StringComparison.Ordinal)).Split(':')[1].Trim(), CultureInfo.InvariantCulture);
            var flowsMade = 2 * accepted;
            var status = await ClusterClient.WaitForAsync(() => client.StatusAsync(node),
                s => s.FlowsActive == 0 && s.FlowsOpened == s.FlowsClosed && s.FlowsOpened + s.FlowsShed >= flowsMade,
                "every followed flow to close and leave memory", SettleDeadline);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"storm: {accepted} connections accepted ({flowsMade} flows), {status.FlowsOpened} followed, {status.FlowsShed} shed ({status.EventsShed} events), "
                + $"kernel drops {status.KernelDrops}; memory peak {cgroup.PeakBytes >> 20} MiB of {Limit >> 20} MiB, OOM kills {cgroup.OomKills}"));

            Assert.False(node.HasExited, "the Node died in the storm");
            Assert.Equal(0, cgroup.OomKills);
            Assert.True(accepted > Clients, $"the server accepted {accepted} connections for {Clients} clients");
            Assert.Equal(0, status.KernelDrops);
            Assert.True(status.FlowsShed >= 2 * Clients - MaxLive, $"{status.FlowsShed} flows shed with {2 * Clients} open at once and a cap of {MaxLive}");
            Assert.Equal(flowsMade, status.FlowsOpened + status.FlowsShed);

            // The cluster's loss total took the shed flows, and keeps them once the Node is gone.
            var keys = new RedisKeys(cluster);
            async Task<long> TotalShed() => (long?)await client.Member.Redis.Database.HashGetAsync(keys.LossTotals, "flows_shed") ?? 0;
            await ClusterClient.WaitForAsync(TotalShed, n => n == status.FlowsShed, "the loss total to take the shed flows", SessionFleet.Deadline);
            Assert.Equal(0, await node.TerminateAsync());
            Assert.Equal(status.FlowsShed, await TotalShed());
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_Node_frozen_for_20_s_leaves_for_a_restart_and_the_others_stay_members()
    {
        await using var redis = await LocalRedisServer.StartAsync();
        var cluster = SessionFleet.NewCluster();
        var alive = Path.Combine(Path.GetTempPath(), $"flowmesh-alive-{Guid.NewGuid():N}", "node.alive");
        var started = await Task.WhenAll(
            MemberProcess.StartAsync("host-a", redis, cluster, ["--capture-port", $"{LoopbackPort.Free()}"]),
            MemberProcess.StartAsync("host-b", redis, cluster, ["--capture-port", $"{LoopbackPort.Free()}"], new Dictionary<string, string> { ["FLOWMESH_NODE__ALIVEFILE"] = alive }),
            MemberProcess.StartAggregatorAsync(redis, cluster, ["--no-gateway"]));
        await using var a = started[0];
        await using var b = started[1];
        await using var aggregator = started[2];
        await using var client = await ClusterClient.JoinAsync(redis, cluster);
        await ClusterClient.WaitForAsync(() => client.StatusAsync(a), s => s.Members.Count == 3, "host-a to see every member", SessionFleet.Deadline);
        await ClusterClient.WaitForAsync(() => client.StatusAsync(b), s => s.Members.Count == 3, "host-b to see every member", SessionFleet.Deadline);

        // The liveness file is fresh while host-b answers (what Kubernetes' probe checks: younger than 30 s) ...
        static TimeSpan Age(string path) => File.Exists(path) ? DateTime.UtcNow - File.GetLastWriteTimeUtc(path) : TimeSpan.MaxValue;
        await ClusterClient.WaitForAsync(() => Task.FromResult(Age(alive)), age => age < TimeSpan.FromSeconds(2), "host-b to touch its liveness file", SessionFleet.Deadline);

        var frozen = Stopwatch.StartNew();
        b.Signal(ProcessControl.SigStop);
        try
        {
            await ClusterClient.WaitForAsync(() => client.StatusAsync(a), s => !s.Members.Contains(b.MemberId), "host-a to drop the frozen host-b", SessionFleet.Deadline);
            // ... and ages while it is frozen.
            Assert.True(Age(alive) >= frozen.Elapsed - TimeSpan.FromSeconds(1.5), $"the liveness file is {Age(alive).TotalSeconds:0.0} s old after {frozen.Elapsed.TotalSeconds:0.0} s frozen");
            // The drill is a 20 s freeze: five leases of these members.
            if (frozen.Elapsed < TimeSpan.FromSeconds(20))
                await Task.Delay(TimeSpan.FromSeconds(20) - frozen.Elapsed);
        }
        finally
        {
            b.Signal(ProcessControl.SigCont);
        }

        // Its id is blocked for good: it says so and exits for its supervisor to start it again.
        var exit = await b.ExitedWithinAsync(TimeSpan.FromSeconds(15));
        Assert.True(exit == FlowMesh.Hosting.ExpulsionExit.ExitCode, $"the resumed host-b exited with {exit?.ToString(CultureInfo.InvariantCulture) ?? "nothing (still running)"}:\n{string.Join("\n", b.Log.TakeLast(20))}");
        Assert.Contains(b.Log, l => l.Contains("Out of the cluster for good", StringComparison.Ordinal));
        // Nobody else went with it: the others stay members and keep answering.
        var others = new HashSet<string> { a.MemberId, aggregator.MemberId };
        await ClusterClient.WaitForAsync(() => client.StatusAsync(a), s => s.Members.ToHashSet().SetEquals(others), "host-a to see itself and the Aggregator", SessionFleet.Deadline);
        Assert.False(a.HasExited || aggregator.HasExited, "a member that was not frozen exited");
        Assert.DoesNotContain(a.Log, l => l.Contains("I have been blocked", StringComparison.Ordinal) || l.Contains("Out of the cluster", StringComparison.Ordinal));
        Assert.DoesNotContain(aggregator.Log, l => l.Contains("I have been blocked", StringComparison.Ordinal) || l.Contains("Out of the cluster", StringComparison.Ordinal));

        // Started again, as a supervisor would, it is a member like any other.
        await using var again = await MemberProcess.StartAsync("host-b", redis, cluster, ["--capture-port", $"{LoopbackPort.Free()}"]);
        await ClusterClient.WaitForAsync(() => client.StatusAsync(a), s => s.Members.Contains(again.MemberId) && s.Members.Count == 3, "host-a to see host-b again", SessionFleet.Deadline);
        Assert.Equal(3, (await client.StatusAsync(again)).Members.Count);
    }

    [Fact]
    public async Task A_Node_killed_under_open_connections_has_their_sessions_settled_by_the_other_side_naming_its_host()
    {
        const int Connections = 3;
        using var hosts = TwoHosts.Create();
        var port = LoopbackPort.Free();
        using var listener = hosts.B.Inside(() => Sockets.Listen(IPAddress.Parse(hosts.AddressB), port));
        // Open flows report to their session every second, so both sides are known before the kill.
        await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, [port], injectTag: false,
            new Dictionary<string, string> { ["FLOWMESH_FLOWS__SESSIONREPORTSECONDS"] = "1" });
        var open = new List<(Socket Client, Socket Server)>();
        try
        {
            for (var i = 0; i < Connections; i++)
            {
                var client = hosts.A.Inside(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
                client.Connect(IPAddress.Parse(hosts.AddressB), port);
                var server = listener.Accept();
                open.Add((client, server));
                Sockets.SendAll(client, Sockets.Pattern(1000, i));
                Sockets.ReceiveExactly(server, 1000);
            }
            var keys = new List<string>();
            foreach (var (client, _) in open)
            {
                var flow = (await ClusterClient.WaitForAsync(() => fleet.Client.QueryAsync("host-a", Sockets.FlowCookie(client)), r => r.Found, "the client flow", SessionFleet.Deadline)).Flow;
                var key = SessionKeys.For(flow);
                await ClusterClient.WaitForAsync(() => fleet.Client.QuerySessionAsync(key), r => r.Found && r.Session.Client is not null && r.Session.Server is not null,
                    $"session {key} to hold both open sides", SessionFleet.Deadline);
                keys.Add(key);
            }

            var killed = Stopwatch.StartNew();
            await fleet.B.CrashAsync();
            foreach (var key in keys)
            {
                var lost = await ClusterClient.WaitForAsync(() => fleet.Client.QuerySessionAsync(key), r => r.Found && r.Session.LostHosts.Contains("host-b"),
                    $"session {key} to name the lost host-b", SessionFleet.Deadline);
                Assert.False(lost.Session.Complete);
                Assert.False(lost.Session.Closed); // its client side is still open, and watched
            }
            // Within the members' lease (4 s in these tests) and a few polls.
            Assert.True(killed.Elapsed < TimeSpan.FromSeconds(10), $"the lost host was noticed after {killed.Elapsed.TotalSeconds:F1} s");

            foreach (var (client, server) in open)
                Sockets.CloseClientFirst(client, server);
            var settled = await ClusterClient.WaitForAsync(async () => (await fleet.StoredSessionsAsync()).Where(s => keys.Contains(s.Id)).ToList(),
                l => l.Count == Connections && l.All(s => s.Closed), "the sessions to settle once their client sides closed", SessionFleet.Deadline);
            Assert.All(settled, s =>
            {
                Assert.Equal(["host-b"], s.LostHosts);
                Assert.False(s.Complete);
                Assert.True(s.Client.Closed);
                Assert.False(s.Server.Closed); // its end was never seen
                Assert.Equal(1000UL, s.BytesClientToServer);
            });
            var status = await ClusterClient.WaitForAsync(() => fleet.AggregatorStatusAsync(), st => st.GetValueOrDefault("sessions_host_lost") >= Connections,
                "the Aggregator to count the sessions whose host was lost", SessionFleet.Deadline);
            Assert.Equal(Connections, status["sessions_host_lost"]);
        }
        finally
        {
            foreach (var (client, server) in open)
            {
                client.Dispose();
                server.Dispose();
            }
        }
    }

    private static void RequireRedisBenchmark()
    {
        if (!File.Exists(RedisBenchmark))
            throw new XunitException($"this drill loads the fleet with redis-benchmark; {RedisBenchmark} is missing: install Debian's redis-tools (scripts/install-deps.sh does)");
    }

    /// <summary>
    /// Waits until both Nodes have closed every flow they opened and hold nothing
    /// unconfirmed, and the stored sessions have held still for a few seconds.
    /// </summary>
    private static async Task<(NodeStatus A, NodeStatus B, long Stored)> SettleAsync(SessionFleet fleet)
    {
        var clock = Stopwatch.StartNew();
        var (last, stableSince) = ("", TimeSpan.Zero);
        while (true)
        {
            var (a, b) = (await fleet.Client.StatusAsync(fleet.A), await fleet.Client.StatusAsync(fleet.B));
            var stored = await fleet.StoredSessionCountAsync();
            var now = string.Create(CultureInfo.InvariantCulture,
                $"host-a opened {a.FlowsOpened} closed {a.FlowsClosed} unconfirmed {a.SessionUnconfirmed} resent {a.SessionResent}; "
                + $"host-b opened {b.FlowsOpened} closed {b.FlowsClosed} unconfirmed {b.SessionUnconfirmed} resent {b.SessionResent}; stored {stored}");
            var quiet = a.FlowsOpened == a.FlowsClosed && b.FlowsOpened == b.FlowsClosed && a.SessionUnconfirmed == 0 && b.SessionUnconfirmed == 0;
            if (now != last)
                (last, stableSince) = (now, clock.Elapsed);
            else if (quiet && clock.Elapsed - stableSince >= TimeSpan.FromSeconds(3))
                return (a, b, stored);
            if (clock.Elapsed > SettleDeadline)
                throw new XunitException($"the fleet did not settle within {SettleDeadline.TotalSeconds} s: {last}");
            await Task.Delay(250);
        }
    }
}
