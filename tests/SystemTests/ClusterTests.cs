using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using FlowMesh.Contracts.Messages;
using FlowMesh.SystemTests.Harness;
using FlowMesh.TestSupport;

namespace FlowMesh.SystemTests;

/// <summary>
/// Real Node processes, a real redis-server started here, real traffic between two
/// hosts (namespaces), and the test as a cluster client.
/// </summary>
public sealed class ClusterTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(4); // --member-ttl of the Nodes and the client
    private static string NewCluster() => $"t{Random.Shared.Next(1 << 24):x}";
    private static string UnusedPort() => Sockets.FreePort(IPAddress.Loopback).ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Members_join_leave_gracefully_at_once_and_a_crashed_one_is_removed_within_the_ttl()
    {
        await using var redis = await LocalRedisServer.StartAsync();
        var cluster = NewCluster();
        var started = await Task.WhenAll(
            MemberProcess.StartAsync("host-a", redis, cluster, ["--capture-port", UnusedPort()]),
            MemberProcess.StartAsync("host-b", redis, cluster, ["--capture-port", UnusedPort()]),
            MemberProcess.StartAsync("host-c", redis, cluster, ["--capture-port", UnusedPort()]));
        await using var a = started[0];
        await using var b = started[1];
        await using var c = started[2];
        await using var client = await ClusterClient.JoinAsync(redis, cluster);
        var all = new HashSet<string> { a.MemberId, b.MemberId, c.MemberId };

        await ClusterClient.WaitForAsync(() => Task.FromResult(client.MemberIds), ids => ids.SetEquals(all), "three members in the client's view", TimeSpan.FromSeconds(15));
        await ClusterClient.WaitForAsync(() => client.StatusAsync(a), s => s.Members.ToHashSet().SetEquals(all), "three members in host-a's view", TimeSpan.FromSeconds(15));
        var registrations = client.Member.Provider.Registrations;
        Assert.Equal(["host-a", "host-b", "host-c"], all.Select(id => registrations[id].HostId).Order());
        Assert.All(all, id => Assert.Equal("node", registrations[id].Role));

        // Graceful leave: announced, so it is gone at once, not after the TTL.
        var leaving = Stopwatch.StartNew();
        Assert.Equal(0, await c.TerminateAsync());
        await ClusterClient.WaitForAsync(() => Task.FromResult(client.MemberIds), ids => !ids.Contains(c.MemberId), "host-c to leave", Ttl);
        Assert.True(leaving.Elapsed < Ttl, $"a graceful leave took {leaving.Elapsed.TotalSeconds:0.0} s");
        Assert.Contains(c.Log, l => l.Contains("Left the cluster", StringComparison.Ordinal));

        // Crash: nobody says goodbye; its lease runs out.
        var crash = Stopwatch.StartNew();
        await b.CrashAsync();
        await ClusterClient.WaitForAsync(() => client.StatusAsync(a), s => !s.Members.Contains(b.MemberId), "host-a to drop the crashed host-b", Ttl + TimeSpan.FromSeconds(4));
        await ClusterClient.WaitForAsync(() => Task.FromResult(client.MemberIds), ids => !ids.Contains(b.MemberId), "the client to drop host-b", TimeSpan.FromSeconds(4));
        Assert.True(crash.Elapsed < Ttl + TimeSpan.FromSeconds(4), $"removing a crashed member took {crash.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal([a.MemberId], client.MemberIds);
        Assert.False(a.HasExited);
    }

    [Fact]
    public async Task Flows_of_a_connection_between_two_hosts_are_queried_from_the_member_that_does_not_host_them()
    {
        await using var redis = await LocalRedisServer.StartAsync();
        using var hosts = TwoHosts.Create();
        var cluster = NewCluster();
        const int Port = 8443;
        var started = await Task.WhenAll(
            MemberProcess.StartAsync("host-a", redis, cluster, ["--netns", hosts.A.Name, "--capture-port", $"{Port}"]),
            MemberProcess.StartAsync("host-b", redis, cluster, ["--netns", hosts.B.Name, "--capture-port", $"{Port}"]));
        await using var nodeA = started[0];
        await using var nodeB = started[1];
        await using var client = await ClusterClient.JoinAsync(redis, cluster);
        await ClusterClient.WaitForAsync(() => Task.FromResult(client.MemberIds), ids => ids.Count == 2, "both Nodes", TimeSpan.FromSeconds(15));

        using var listener = hosts.B.Inside(() => Sockets.Listen(IPAddress.Parse(hosts.AddressB), Port));
        var connection = hosts.A.Inside(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        connection.Connect(IPAddress.Parse(hosts.AddressB), Port);
        var accepted = listener.Accept();
        var (c, s) = (Sockets.FlowCookie(connection), Sockets.FlowCookie(accepted));
        var request = Sockets.Pattern(5000, 1);
        var response = Sockets.Pattern(3000, 2);
        Sockets.SendAll(connection, request);
        Assert.Equal(request, Sockets.ReceiveExactly(accepted, request.Length));
        Sockets.SendAll(accepted, response);
        Assert.Equal(response, Sockets.ReceiveExactly(connection, response.Length));
        Sockets.CloseClientFirst(connection, accepted);

        // The client's flow lives on host-a; ask host-b for it (and the other way round).
        var clientFlow = (await ClusterClient.WaitForAsync(() => client.QueryViaAsync(nodeB, "host-a", c), r => r.Found && r.Flow.Closed,
            "host-a's flow, asked through host-b", TimeSpan.FromSeconds(15))).Flow;
        var serverFlow = (await ClusterClient.WaitForAsync(() => client.QueryViaAsync(nodeA, "host-b", s), r => r.Found && r.Flow.Closed,
            "host-b's flow, asked through host-a", TimeSpan.FromSeconds(15))).Flow;

        Assert.Equal((FlowRole.Client, "TCP_CLOSE", CloseReason.Normal, FlowSide.Local), (clientFlow.Role, clientFlow.State, clientFlow.CloseReason, clientFlow.FirstFinBy));
        Assert.Equal((FlowRole.Server, "TCP_CLOSE", CloseReason.Normal, FlowSide.Remote), (serverFlow.Role, serverFlow.State, serverFlow.CloseReason, serverFlow.FirstFinBy));
        Assert.Equal((5000UL, 3000UL), (clientFlow.BytesSent, clientFlow.BytesReceived));
        Assert.Equal((3000UL, 5000UL), (serverFlow.BytesSent, serverFlow.BytesReceived));
        Assert.Equal((hosts.AddressA, hosts.AddressB, (uint)Port), (clientFlow.LocalAddress, clientFlow.RemoteAddress, clientFlow.RemotePort));
        Assert.Equal((hosts.AddressB, (uint)Port, hosts.AddressA, clientFlow.LocalPort), (serverFlow.LocalAddress, serverFlow.LocalPort, serverFlow.RemoteAddress, serverFlow.RemotePort));
        Assert.Equal(["TCP_SYN_SENT", "TCP_ESTABLISHED", "TCP_FIN_WAIT1", "TCP_FIN_WAIT2", "TCP_CLOSE"], clientFlow.Steps.Select(x => x.NewState));
        // The server's flow keeps its accept() among its steps, in kernel order.
        Assert.Equal(["TCP_SYN_RECV", "TCP_ESTABLISHED", "accepted", "TCP_CLOSE_WAIT", "TCP_LAST_ACK", "TCP_CLOSE"],
            serverFlow.Steps.Select(x => x.Event == "accepted" ? x.Event : x.NewState));
        Assert.Equal((clientFlow.IsnLocal, clientFlow.IsnRemote), (serverFlow.IsnRemote, serverFlow.IsnLocal));
        Assert.Equal((uint)Environment.ProcessId, clientFlow.Pid);
        Assert.Equal((uint)Environment.ProcessId, serverFlow.Pid);
        Assert.True(clientFlow.HandshakeUs > 0 && clientFlow.EstablishedNs > clientFlow.SynNs);
        Assert.Equal(0u, clientFlow.Unexpected + clientFlow.Duplicates + serverFlow.Unexpected + serverFlow.Duplicates);

        // Straight through the cluster gives the same view; a cookie nobody saw is not found.
        var direct = await client.QueryAsync("host-a", c);
        Assert.True(direct.Found);
        Assert.Equal(clientFlow.Steps, direct.Flow.Steps);
        // The kernel's own cookie (as `capture` prints it) names this boot's flow too.
        var byKernelCookie = await client.QueryAsync("host-a", c & ((1UL << 48) - 1));
        Assert.True(byKernelCookie.Found);
        Assert.Equal(c, byKernelCookie.Flow.Cookie);
        Assert.False((await client.QueryAsync("host-a", 987654321)).Found);

        // Each flow stayed on its own host: queries from elsewhere did not move it.
        var statusA = await client.StatusAsync(nodeA);
        var statusB = await client.StatusAsync(nodeB);
        Assert.Equal(1, statusA.FlowsOpened);
        Assert.Equal(1, statusB.FlowsOpened);
        Assert.Equal((5L, 6L), (statusA.FlowEvents, statusB.FlowEvents)); // host-b's sixth: its accept()
    }

    [Fact]
    public async Task An_idle_open_flow_is_passivated_to_Redis_and_comes_back_on_its_next_event()
    {
        await using var redis = await LocalRedisServer.StartAsync();
        var cluster = NewCluster();
        var port = Sockets.FreePort(IPAddress.Loopback);
        await using var node = await MemberProcess.StartAsync("host-a", redis, cluster, ["--capture-port", $"{port}"],
            new Dictionary<string, string> { ["FLOWMESH_FLOWS__IDLESECONDS"] = "1" });
        await using var client = await ClusterClient.JoinAsync(redis, cluster);

        using var listener = Sockets.Listen(IPAddress.Loopback, port);
        var (connection, accepted) = Sockets.Connect(listener);
        var c = Sockets.FlowCookie(connection);
        Sockets.SendAll(connection, Sockets.Pattern(100, 1));
        Sockets.ReceiveExactly(accepted, 100);

        // Quiet for longer than the idle timeout: both flows save their state and stop.
        await ClusterClient.WaitForAsync(() => client.StatusAsync(node), st => st.FlowsPassivated >= 2 && st.FlowsActive == 0, "both open flows to passivate", TimeSpan.FromSeconds(15));

        Sockets.SendAll(connection, Sockets.Pattern(200, 2));
        Sockets.ReceiveExactly(accepted, 200);
        Sockets.CloseClientFirst(connection, accepted);
        var flow = (await ClusterClient.WaitForAsync(() => client.QueryAsync("host-a", c), r => r.Found && r.Flow.Closed, "the restored flow to close", TimeSpan.FromSeconds(15))).Flow;

        // The counters are the control actor's, told after each restore: waited on, not read once.
        var status = await ClusterClient.WaitForAsync(() => client.StatusAsync(node), st => st.FlowsRestored >= 2, "both flows counted as restored", TimeSpan.FromSeconds(10));
        Assert.Equal(0, status.StateConflicts);
        Assert.Equal(300UL, flow.BytesSent);
        Assert.Equal(FlowRole.Client, flow.Role);
        Assert.False(flow.MidLife);
        Assert.Equal(["TCP_SYN_SENT", "TCP_ESTABLISHED", "TCP_FIN_WAIT1", "TCP_FIN_WAIT2", "TCP_CLOSE"], flow.Steps.Select(x => x.NewState));
        Assert.Equal(CloseReason.Normal, flow.CloseReason);
    }

    [Fact]
    public async Task A_Redis_restart_is_counted_and_membership_and_flows_resume()
    {
        await using var redis = await LocalRedisServer.StartAsync();
        var cluster = NewCluster();
        var (portA, portB) = (Sockets.FreePort(IPAddress.Loopback), Sockets.FreePort(IPAddress.Loopback));
        // Closed flows stay in memory past the whole outage (the default linger is 2 s), so one that closed during it can still be asked.
        var protoLogs = new Dictionary<string, string> { ["FLOWMESH_LOGGING__LOGLEVEL__PROTO"] = "Information", ["FLOWMESH_FLOWS__LINGERSECONDS"] = "60" };
        var started = await Task.WhenAll(
            MemberProcess.StartAsync("host-a", redis, cluster, ["--capture-port", $"{portA}"], protoLogs),
            MemberProcess.StartAsync("host-b", redis, cluster, ["--capture-port", $"{portB}"], protoLogs),
            MemberProcess.StartAggregatorAsync(redis, cluster, [])); // it writes the closed flows' records
        await using var a = started[0];
        await using var b = started[1];
        await using var aggregator = started[2];
        await using var client = await ClusterClient.JoinAsync(redis, cluster);
        var all = new HashSet<string> { a.MemberId, b.MemberId, aggregator.MemberId };
        await ClusterClient.WaitForAsync(() => Task.FromResult(client.MemberIds), ids => ids.SetEquals(all), "both Nodes and the Aggregator", TimeSpan.FromSeconds(15));

        // Watch the client's view the whole time: nobody may drop out.
        using var watching = new CancellationTokenSource();
        var smallestView = all.Count;
        var watcher = Task.Run(async () =>
        {
            while (!watching.IsCancellationRequested)
            {
                smallestView = Math.Min(smallestView, client.MemberIds.Count);
                await Task.Delay(50);
            }
        });

        await redis.KillAsync();
        var outage = Stopwatch.StartNew();
        using var listener = Sockets.Listen(IPAddress.Loopback, portA);
        var (during, duringServer) = Sockets.Connect(listener);
        var duringCookie = Sockets.FlowCookie(during);
        Sockets.CloseClientFirst(during, duringServer);
        // Longer than a lease, so that without care every member would have expired.
        await ClusterClient.WaitForAsync(() => client.StatusAsync(a), st => st.RedisFailures > 0 && outage.Elapsed > Ttl + TimeSpan.FromSeconds(1),
            "Redis failures to be counted through a whole lease", TimeSpan.FromSeconds(20));

        await redis.StartAgainAsync(); // empty: no registrations, no flows
        await ClusterClient.WaitForAsync(() => client.StatusAsync(a), st => st.Members.ToHashSet().SetEquals(all), "host-a to see every member", TimeSpan.FromSeconds(15));
        HashSet<string> redisMembers;
        try
        {
            redisMembers = await ClusterClient.WaitForAsync(
                async () => (await client.Member.Redis.Database.SortedSetRangeByRankAsync(client.Member.Keys.MemberLeases)).Select(v => (string)v!).ToHashSet(),
                ids => ids.SetEquals(all), "every member to register again in the new Redis", TimeSpan.FromSeconds(20));
        }
        catch (Xunit.Sdk.XunitException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\nhost-a:\n  {string.Join("\n  ", a.Log.Where(l => !l.Contains("rose from", StringComparison.Ordinal)).TakeLast(40))}\nhost-b:\n  {string.Join("\n  ", b.Log.Where(l => !l.Contains("rose from", StringComparison.Ordinal)).TakeLast(40))}");
        }
        Assert.Equal(all, redisMembers);

        // The flow that closed during the outage is still answered from memory; a new one is recorded in Redis again (by the Aggregator).
        Assert.True((await client.QueryAsync("host-a", duringCookie)).Found);
        var (after, afterServer) = Sockets.Connect(listener);
        var afterCookie = Sockets.FlowCookie(after);
        Sockets.CloseClientFirst(after, afterServer);
        await ClusterClient.WaitForAsync(async () => await client.Member.Redis.Database.KeyExistsAsync(client.Member.Keys.ClosedFlow("host-a", afterCookie)),
            exists => exists, "the new flow's record in Redis", TimeSpan.FromSeconds(15));

        await watching.CancelAsync();
        await watcher;
        Assert.Equal(all.Count, smallestView);
        Assert.False(a.HasExited || b.HasExited || aggregator.HasExited);
        var statusInRedis = await ClusterClient.WaitForAsync(
            async () => await client.Member.Redis.Database.HashGetAsync(client.Member.Keys.NodeStatus("host-a"), "redis_failures"),
            v => v.HasValue && (long)v > 0, "host-a's published status to show the gap", TimeSpan.FromSeconds(10));
        Assert.True((long)statusInRedis > 0);
    }
}
