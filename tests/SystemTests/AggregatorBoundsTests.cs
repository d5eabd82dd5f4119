using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.SystemTests.Harness;
using FlowMesh.TestSupport;
using Proto;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace FlowMesh.SystemTests;

/// <summary>
/// A real Aggregator process fed what a stranger who reaches its actor port, or a copied
/// trace tag, would send it (issue 13's drills 6 and 7): the test's own cluster client
/// writes the flow views itself, as the Nodes' hand-off does, so it knows exactly what
/// went in. The Aggregator must stay up and count everything its bounds leave out.
/// </summary>
public sealed class AggregatorBoundsTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private const int Batch = 500;

    [Fact]
    public async Task A_hundred_thousand_flows_under_one_trace_tag_make_one_session_and_the_rest_are_counted()
    {
        const int Flows = 100_000;
        const int PerSession = 16; // the default Sessions:MaxFlowsPerSession
        await using var redis = await LocalRedisServer.StartAsync();
        var cluster = SessionFleet.NewCluster();
        await using var aggregator = await MemberProcess.StartAggregatorAsync(redis, cluster, ["--join-window", "1", "--no-gateway"]);
        await using var client = await ClusterClient.JoinAsync(redis, cluster);

        // Server sides that all read the same tag from their SYN: a copied tag.
        await SendAsync(client, aggregator, Enumerable.Range(1, Flows).Select(i => ServerView((ulong)i, tag: 0x5eed, serverPort: 80)));

        var status = await ClusterClient.WaitForAsync(() => StatusAsync(client, aggregator),
            s => s.GetValueOrDefault("flows_received") == Flows && s.GetValueOrDefault("sessions_active") == 0, "the Aggregator to take every flow and settle", Deadline);
        var stored = await client.Member.Redis.Database.SortedSetLengthAsync(client.Member.Keys.SessionIndex);
        output.WriteLine($"one tag: {status["flows_received"]} flows in, {status["flows_over_session_cap"]} over the cap, {stored} sessions stored");
        Assert.Equal(Flows - PerSession, status["flows_over_session_cap"]);
        Assert.Equal(1, stored);
        Assert.False(aggregator.HasExited);
    }

    [Fact]
    public async Task Ten_thousand_edges_keep_series_for_the_first_thousand_and_count_the_rest_under_other()
    {
        const int Edges = 10_000;
        const int MaxEdges = 1_000;
        await using var redis = await LocalRedisServer.StartAsync();
        var cluster = SessionFleet.NewCluster();
        await using var aggregator = await MemberProcess.StartAggregatorAsync(redis, cluster, ["--join-window", "1", "--no-gateway"],
            new Dictionary<string, string> { ["FLOWMESH_SESSIONS__MAXEDGES"] = $"{MaxEdges}" });
        await using var client = await ClusterClient.JoinAsync(redis, cluster);

        // One connection to each of 10,000 server ports: a port scan's worth of edges.
        await SendAsync(client, aggregator, Enumerable.Range(1, Edges).Select(i => ServerView((ulong)i, tag: (ulong)i, serverPort: (uint)(1000 + i))));

        var status = await ClusterClient.WaitForAsync(() => StatusAsync(client, aggregator),
            s => s.GetValueOrDefault("sessions_one_sided") == Edges && s.GetValueOrDefault("sessions_active") == 0, "every session to settle", Deadline);
        var db = client.Member.Redis.Database;
        var keys = client.Member.Keys;
        // Tag survival is flushed to Redis every second.
        var edges = await ClusterClient.WaitForAsync(async () => (await db.SetMembersAsync(keys.TagEdges)).Select(e => (string)e!).ToHashSet(),
            e => e.Contains("other>other"), "the edges in Redis", Deadline);
        var other = await ClusterClient.WaitForAsync(async () => (long?)await db.HashGetAsync(keys.TagEdge("other>other"), "sessions") ?? 0,
            n => n == Edges - MaxEdges, "the sessions counted under other>other", Deadline);
        output.WriteLine($"edges: {status["edges"]} kept, {status["sessions_on_other_edge"]} sessions on other, {edges.Count} edges in Redis");
        Assert.Equal(MaxEdges, status["edges"]);
        Assert.Equal(Edges - MaxEdges, status["sessions_on_other_edge"]);
        Assert.Equal(Edges - MaxEdges, other);
        Assert.Equal(MaxEdges + 1, edges.Count);
    }

    [Fact]
    public async Task At_Redis_maxmemory_the_oldest_records_are_evicted_and_counted_and_the_membership_stays()
    {
        const int Sessions = 30_000;
        await using var redis = await LocalRedisServer.StartAsync();
        // What deploy/ and run-local.sh give the cluster's Redis, at a size this test can fill.
        foreach (var (name, value) in new[] { ("maxmemory", "6mb"), ("maxmemory-policy", "volatile-lru") })
        {
            var (exit, _, stderr) = await NodeCommand.RunAsync(new System.Diagnostics.ProcessStartInfo("/usr/bin/redis-cli", ["-p", $"{redis.Port}", "--no-auth-warning", "-a", redis.Password, "config", "set", name, value]));
            Assert.True(exit == 0, $"redis-cli config set {name}: {stderr} (redis-cli is in Debian's redis-tools; scripts/install-deps.sh installs it)");
        }
        var cluster = SessionFleet.NewCluster();
        // Indexes capped well within that (the default, 1,000,000 each, is sized for a Redis of gigabytes).
        await using var aggregator = await MemberProcess.StartAggregatorAsync(redis, cluster, ["--join-window", "1", "--no-gateway"],
            new Dictionary<string, string> { ["FLOWMESH_SESSIONS__MAXINDEXED"] = "5000" });
        await using var client = await ClusterClient.JoinAsync(redis, cluster);

        await SendAsync(client, aggregator, Enumerable.Range(1, Sessions).Select(i => ServerView((ulong)i, tag: (ulong)i, serverPort: 80)));

        // Redis's memory is read every 10 s.
        Dictionary<string, long> status;
        try
        {
            status = await ClusterClient.WaitForAsync(() => StatusAsync(client, aggregator),
                s => s.GetValueOrDefault("flows_received") == Sessions && s.GetValueOrDefault("sessions_active") == 0 && s.GetValueOrDefault("redis_evicted_keys") > 0,
                "the Aggregator to settle every session and report Redis's evictions", Deadline);
        }
        catch (Xunit.Sdk.XunitException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\n{string.Join("\n", aggregator.Log.TakeLast(15))}");
        }
        output.WriteLine($"maxmemory: {status["redis_used_memory"] >> 10} KiB used of {status["redis_maxmemory"] >> 10} KiB, {status["redis_evicted_keys"]} keys evicted, not stored {status["sessions_not_stored"]}, unrecorded {status["flows_unrecorded"]}");
        Assert.Equal(6L << 20, status["redis_maxmemory"]);
        // Records have a TTL and are evicted, oldest first; the indexes are capped, so Redis never has to refuse a write.
        Assert.True(status["redis_evicted_keys"] > 0, "nothing was evicted: the test did not reach maxmemory");
        Assert.Equal(0, status["sessions_not_stored"] + status["flows_unrecorded"]);
        Assert.InRange(await client.Member.Redis.Database.SortedSetLengthAsync(client.Member.Keys.SessionIndex), 1, 5000);
        Assert.Contains(aggregator.Log, l => l.Contains("Redis uses", StringComparison.Ordinal) && l.Contains("of its 6 MiB and has evicted", StringComparison.Ordinal));
        Assert.False(aggregator.HasExited);
        // The membership has no TTL, so it is never evicted: the Aggregator is still registered and seen.
        Assert.NotNull(await client.Member.Redis.Database.SortedSetScoreAsync(client.Member.Keys.MemberLeases, aggregator.MemberId));
        Assert.Contains(aggregator.MemberId, client.MemberIds);
    }

    /// <summary>A closed server side of a connection from 10.0.0.1 to 10.0.0.2:<paramref name="serverPort"/>, as a Node would hand it over.</summary>
    private static FlowView ServerView(ulong cookie, ulong tag, uint serverPort) => new()
    {
        HostId = "host-b", Cookie = cookie, Role = FlowRole.Server, Closed = true, CloseReason = CloseReason.Normal, State = "TCP_CLOSE",
        LocalAddress = "10.0.0.2", LocalPort = serverPort, RemoteAddress = "10.0.0.1", RemotePort = (uint)(20000 + cookie % 40000),
        TraceTag = tag, TagReceived = true, Comm = "server",
        // Now, or the store's index would trim the session at once as older than its TTL.
        WallClockOffsetNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000, FirstSeenNs = 1_000_000 + cookie, EstablishedNs = 1_000_500 + cookie, ClosedNs = 2_000_000 + cookie,
    };

    private static async Task SendAsync(ClusterClient client, MemberProcess aggregator, IEnumerable<FlowView> views)
    {
        var ingress = PID.FromAddress(aggregator.Address, ClusterKinds.SessionIngressActor);
        foreach (var chunk in views.Chunk(Batch))
        {
            var records = new SessionRecords();
            records.Flows.AddRange(chunk);
            var ack = await client.Member.System.Root.RequestAsync<SessionRecordsAck>(ingress, records, TimeSpan.FromSeconds(10));
            Assert.Equal(chunk.Length, ack.Accepted);
        }
    }

    private static async Task<Dictionary<string, long>> StatusAsync(ClusterClient client, MemberProcess aggregator)
    {
        var fields = await client.Member.Redis.Database.HashGetAllAsync(client.Member.Keys.AggregatorStatus(aggregator.MemberId));
        return fields.Where(f => f.Value.TryParse(out long _)).ToDictionary(f => f.Name.ToString(), f => (long)f.Value);
    }
}
