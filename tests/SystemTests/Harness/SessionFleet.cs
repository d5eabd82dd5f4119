using System.Globalization;
using System.Text.Json;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.TestSupport;
using StackExchange.Redis;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// A fleet for end-to-end sessions: a private redis-server, a Node on each of two hosts
/// (host-a and host-b, each capturing its own namespace and only the given ports, so the
/// Nodes' own cluster traffic stays out of the way), one Aggregator or more, and the
/// test's own cluster client. Everything is stopped when disposed.
/// </summary>
internal sealed class SessionFleet : IAsyncDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    public required LocalRedisServer Redis { get; init; }
    public required MemberProcess A { get; init; }
    public required MemberProcess B { get; init; }
    public required IReadOnlyList<MemberProcess> Aggregators { get; init; }
    public MemberProcess Aggregator => Aggregators[0];
    public required ClusterClient Client { get; init; }
    public required string Cluster { get; init; }

    public RedisKeys Keys => new(Cluster);

    /// <summary>A cluster name no other test (or run on this machine) uses.</summary>
    public static string NewCluster() => $"s{Random.Shared.Next(1 << 24):x}";

    public static Task<SessionFleet> StartAsync(string netnsA, string netnsB, IEnumerable<int> ports, bool injectTag,
        IReadOnlyDictionary<string, string>? nodeEnvironment, params string[] aggregatorFlags) =>
        StartAsync(netnsA, netnsB, ports, injectTag, nodeEnvironment, aggregators: 1, aggregatorFlags);

    public static Task<SessionFleet> StartAsync(string netnsA, string netnsB, IEnumerable<int> ports, bool injectTag,
        IReadOnlyDictionary<string, string>? nodeEnvironment, int aggregators, params string[] aggregatorFlags) =>
        StartAsync(netnsA, netnsB, ports, injectTag, nodeEnvironment, nodeEnvironment, aggregators, aggregatorFlags);

    /// <summary>A fleet whose two Nodes get settings of their own (<paramref name="environmentA"/> for host-a, <paramref name="environmentB"/> for host-b).</summary>
    public static async Task<SessionFleet> StartAsync(string netnsA, string netnsB, IEnumerable<int> ports, bool injectTag,
        IReadOnlyDictionary<string, string>? environmentA, IReadOnlyDictionary<string, string>? environmentB, int aggregators, string[] aggregatorFlags)
    {
        KernelTestRequirements.Require();
        var redis = await LocalRedisServer.StartAsync();
        var cluster = NewCluster();
        string[] capture = [.. ports.SelectMany(p => new[] { "--capture-port", p.ToString(CultureInfo.InvariantCulture) })];
        string[] tag = injectTag ? ["--inject-tag"] : [];
        Task<MemberProcess>[] members =
        [
            MemberProcess.StartAsync("host-a", redis, cluster, ["--netns", netnsA, .. capture, .. tag], environmentA),
            MemberProcess.StartAsync("host-b", redis, cluster, ["--netns", netnsB, .. capture, .. tag], environmentB),
            .. Enumerable.Range(0, aggregators).Select(_ => MemberProcess.StartAggregatorAsync(redis, cluster, ["--join-window", "1", .. aggregatorFlags])),
        ];
        ClusterClient client;
        try
        {
            await Task.WhenAll(members);
            client = await ClusterClient.JoinAsync(redis, cluster);
        }
        catch
        {
            // What did start is stopped: a failed start leaves no process behind.
            foreach (var member in members.Where(m => m.IsCompletedSuccessfully))
                await member.Result.DisposeAsync();
            await redis.DisposeAsync();
            throw;
        }
        var fleet = new SessionFleet { Redis = redis, A = members[0].Result, B = members[1].Result, Aggregators = [.. members.Skip(2).Select(m => m.Result)], Client = client, Cluster = cluster };
        try
        {
            await ClusterClient.WaitForAsync(() => Task.FromResult(client.MemberIds), ids => ids.Count == 2 + aggregators, "two Nodes and the Aggregators", Deadline);
            return fleet;
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }
    }

    /// <summary>The client flow's view once closed, and the settled session it belongs to.</summary>
    public async Task<(FlowView Flow, SessionView Session)> SessionOfAsync(string host, ulong cookie, Func<SessionView, bool> settled)
    {
        var flow = (await ClusterClient.WaitForAsync(() => Client.QueryAsync(host, cookie), r => r.Found && r.Flow.Closed, $"flow {host}/{cookie} to close", Deadline)).Flow;
        var key = SessionKeys.For(flow);
        var session = (await ClusterClient.WaitForAsync(() => Client.QuerySessionAsync(key), r => r.Found && settled(r.Session), $"session {key}", Deadline)).Session;
        return (flow, session);
    }

    /// <summary>Trace tag survival per edge, as the Aggregator's `tags --json` prints it.</summary>
    public async Task<Dictionary<string, JsonElement>> TagEdgesAsync()
    {
        var (exit, stdout, stderr) = await NodeCommand.RunAsync(NodeCommand.AggregatorStartInfo(["tags", "--json", "--redis", Redis.Endpoint, "--cluster", Cluster]));
        Assert.True(exit == 0, stderr);
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement.Clone())
            .ToDictionary(e => e.GetProperty("edge").GetString()!);
    }

    /// <summary>An Aggregator's counters (the first one's unless told) as it last published them to Redis (every second); empty before the first.</summary>
    public async Task<Dictionary<string, long>> AggregatorStatusAsync(MemberProcess? aggregator = null)
    {
        var fields = await Client.Member.Redis.Database.HashGetAllAsync(Keys.AggregatorStatus((aggregator ?? Aggregator).MemberId));
        return fields.Where(f => f.Value.TryParse(out long _)).ToDictionary(f => f.Name.ToString(), f => (long)f.Value);
    }

    /// <summary>How many sessions the index lists.</summary>
    public Task<long> StoredSessionCountAsync() => Client.Member.Redis.Database.SortedSetLengthAsync(Keys.SessionIndex);

    /// <summary>Every session stored in Redis, as a user of the store would read it: the index, then each record.</summary>
    public async Task<IReadOnlyList<SessionView>> StoredSessionsAsync()
    {
        var db = Client.Member.Redis.Database;
        var ids = await db.SortedSetRangeByRankAsync(Keys.SessionIndex);
        var values = await db.StringGetAsync([.. ids.Select(id => (RedisKey)Keys.Session(id.ToString()))]);
        var sessions = new List<SessionView>(values.Length);
        for (var i = 0; i < values.Length; i++)
        {
            // An id whose record is gone (TTL) is not a session any more; none expire within a test.
            Assert.False(values[i].IsNull, $"session {ids[i]} is in the index but has no record");
            sessions.Add(SessionView.Parser.ParseFrom((byte[])values[i]!));
        }
        return sessions;
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        foreach (var aggregator in Aggregators)
            await aggregator.DisposeAsync();
        await B.DisposeAsync();
        await A.DisposeAsync();
        await Redis.DisposeAsync();
    }
}
