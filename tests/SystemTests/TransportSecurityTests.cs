using System.Diagnostics;
using System.Net;
using FlowMesh.Cluster.Transport;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.SystemTests.Harness;
using FlowMesh.TestSupport;
using Proto;
using Proto.Cluster;
using Proto.Remote;
using Proto.Remote.GrpcNet;

namespace FlowMesh.SystemTests;

/// <summary>
/// Only the fleet talks to the fleet (issue 14): members speak mutual TLS with the cluster's
/// CA and Redis wants its password. A stranger with Proto.Remote and the right message
/// types, but no certificate or one from another CA, gets nothing done, and every attempt
/// is counted by the member it tried.
/// </summary>
public sealed class TransportSecurityTests
{
    private static readonly TimeSpan Attempt = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task A_stranger_without_the_clusters_certificate_can_do_nothing_and_is_counted()
    {
        await using var redis = await LocalRedisServer.StartAsync();
        var cluster = SessionFleet.NewCluster();
        var started = await Task.WhenAll(
            MemberProcess.StartAsync("host-a", redis, cluster, ["--capture-port", $"{LoopbackPort.Free()}"]),
            MemberProcess.StartAggregatorAsync(redis, cluster, ["--no-gateway"]));
        await using var node = started[0];
        await using var aggregator = started[1];
        Assert.Contains(node.Log, l => l.Contains("Cluster transport: mutual TLS", StringComparison.Ordinal));
        await using var client = await ClusterClient.JoinAsync(redis, cluster);

        // The fleet's own client, with the CA's certificate, is answered.
        var listed = await client.Member.System.Root.RequestAsync<ListFlowsResponse>(
            PID.FromAddress(node.Address, ClusterKinds.NodeControlActor), new ListFlowsRequest { Limit = 10 }, TimeSpan.FromSeconds(10));
        Assert.NotNull(listed);

        var strangerCa = Directory.CreateTempSubdirectory("flowmesh-stranger-");
        try
        {
            CertificateMaker.MakeAuthority(strangerCa.FullName, "another CA", TimeSpan.FromDays(1));
            var (cert, key) = CertificateMaker.MakeMember(strangerCa.FullName, strangerCa.FullName, "stranger", [IPAddress.Loopback], [], TimeSpan.FromDays(1));
            // A stranger that trusts our CA (it could have read ca.crt) but whose own certificate is another CA's.
            var bundle = Path.Combine(strangerCa.FullName, "bundle.crt");
            await File.WriteAllTextAsync(bundle, await File.ReadAllTextAsync(TestTls.Ca) + await File.ReadAllTextAsync(Path.Combine(strangerCa.FullName, "ca.crt")));
            using var otherCa = MutualTls.Load(bundle, cert, key, null);
            foreach (var (name, tls) in new (string, MutualTls?)[] { ("plaintext", null), ("another CA's certificate", otherCa) })
            {
                var remote = RemoteConfig.BindTo("127.0.0.1", 0).WithProtoMessages(FlowsReflection.Descriptor, ClusterReflection.Descriptor, SessionsReflection.Descriptor)
                    .WithEndpointWriterMaxRetries(0);
                var stranger = new ActorSystem().WithRemote(tls is null ? remote : tls.Apply(remote));
                await stranger.Remote().StartAsync();
                try
                {
                    var nodeRefusedBefore = (await client.StatusAsync(node)).TlsRefused;
                    // List the host's flows, ask for an activation, forge session records, stop a capture actor.
                    await AssertRefusedAsync(name, "listing flows", () => stranger.Root.RequestAsync<ListFlowsResponse>(
                        PID.FromAddress(node.Address, ClusterKinds.NodeControlActor), new ListFlowsRequest { Limit = 10 }, Attempt));
                    await AssertRefusedAsync(name, "activating a flow", () => stranger.Root.RequestAsync<ActivationResponse>(
                        PID.FromAddress(node.Address, "flowmesh-activator"), // the placement actor every member runs
                        new ActivationRequest { ClusterIdentity = ClusterIdentity.Create("host-a/1", ClusterKinds.Flow), RequestId = "x" }, Attempt));
                    await AssertRefusedAsync(name, "sending session records", () => stranger.Root.RequestAsync<SessionRecordsAck>(
                        PID.FromAddress(aggregator.Address, ClusterKinds.SessionIngressActor), new SessionRecords { Flows = { new FlowView { HostId = "host-a", Cookie = 1, Closed = true } } }, Attempt));
                    stranger.Root.Stop(PID.FromAddress(node.Address, "capture-0"));

                    await ClusterClient.WaitForAsync(() => client.StatusAsync(node), s => s.TlsRefused > nodeRefusedBefore,
                        $"host-a to count the refused {name} stranger", SessionFleet.Deadline);
                }
                finally
                {
                    await stranger.Remote().ShutdownAsync(graceful: false);
                }
            }
        }
        finally
        {
            strangerCa.Delete(recursive: true);
        }

        // Nothing the strangers sent arrived: no record reached the Aggregator, the capture goes on.
        var status = await client.StatusAsync(node);
        var aggregatorStatus = await ClusterClient.WaitForAsync(() => AggregatorStatusAsync(client, aggregator), s => s.GetValueOrDefault("tls_refused") >= 2,
            "the Aggregator to count both strangers' handshakes", SessionFleet.Deadline);
        Assert.Equal(0, aggregatorStatus.GetValueOrDefault("flows_received"));
        Assert.False(node.HasExited || aggregator.HasExited);
        Assert.Contains(node.Log, l => l.Contains("FlowMesh Node host-a is member", StringComparison.Ordinal));
        Assert.DoesNotContain(node.Log, l => l.Contains("capture-0", StringComparison.Ordinal) && l.Contains("stopped", StringComparison.OrdinalIgnoreCase));
        Assert.True(status.TlsRefused >= 2, $"host-a counted {status.TlsRefused} refused peers for two strangers");
    }

    [Fact]
    public async Task Redis_without_its_password_is_refused_and_a_member_given_a_wrong_one_says_so_in_one_line()
    {
        await using var redis = await LocalRedisServer.StartAsync();
        var address = $"127.0.0.1:{redis.Port}";
        // Redis's own client, without the password, may not write.
        var (_, stdout, _) = await NodeCommand.RunAsync(new ProcessStartInfo("/usr/bin/redis-cli", ["-p", $"{redis.Port}", "set", "fm:probe", "x"]));
        Assert.Contains("NOAUTH", stdout, StringComparison.Ordinal);
        // A wrong password is refused at the handshake, and the member says so. (With no password
        // at all, StackExchange.Redis reports the refusal only on some connections' first
        // command, so a start-up check cannot always see it; the member then counts
        // redis_failures and says so in its log.)
        foreach (var endpoint in new[] { $"{address},password=wrong" })
        {
            var (exit, line) = await OneLineErrorAsync(NodeCommand.AggregatorStartInfo(["run", "--redis", endpoint, "--cluster", "pw", "--no-gateway"]));
            Assert.Equal(2, exit);
            Assert.Contains("refused FlowMesh's credentials", line, StringComparison.Ordinal);
            Assert.DoesNotContain("wrong", line, StringComparison.Ordinal); // the password itself is never printed
        }
    }

    public static TheoryData<string, string> BadTls => new()
    {
        { "expired", "expired on" },
        { "another-ca", "is not signed by the CA" },
        { "garbage-key", "are not a PEM certificate and its private key" },
        { "missing-file", "does not exist" },
        { "none-off-loopback", "needs mutual TLS" },
    };

    [Theory]
    [MemberData(nameof(BadTls))]
    public async Task Bad_TLS_material_stops_a_member_at_start_with_one_line(string kind, string expected)
    {
        await using var redis = await LocalRedisServer.StartAsync();
        var directory = Directory.CreateTempSubdirectory("flowmesh-badtls-");
        try
        {
            var (ca, cert, key) = (TestTls.Ca, TestTls.Cert, TestTls.Key);
            string[] extra = [];
            switch (kind)
            {
                case "expired":
                    // Made by the suite's CA, valid until a minute ago.
                    (cert, key) = CertificateMaker.MakeMember(Path.GetDirectoryName(TestTls.Ca)!, directory.FullName, "expired", [], [], TimeSpan.FromMinutes(-1));
                    break;
                case "another-ca":
                    CertificateMaker.MakeAuthority(directory.FullName, "another CA", TimeSpan.FromDays(1));
                    (cert, key) = CertificateMaker.MakeMember(directory.FullName, directory.FullName, "stranger", [], [], TimeSpan.FromDays(1));
                    break;
                case "garbage-key":
                    key = Path.Combine(directory.FullName, "garbage.key");
                    await File.WriteAllTextAsync(key, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
                    break;
                case "missing-file":
                    ca = Path.Combine(directory.FullName, "nowhere.crt");
                    break;
                case "none-off-loopback":
                    (ca, cert, key) = ("", "", "");
                    extra = ["--bind", "0.0.0.0"];
                    break;
            }
            var info = NodeCommand.AggregatorStartInfo(["run", "--redis", redis.Endpoint, "--cluster", "badtls", "--no-gateway", .. extra]);
            info.Environment["FLOWMESH_CLUSTER__TLS__CA"] = ca;
            info.Environment["FLOWMESH_CLUSTER__TLS__CERT"] = cert;
            info.Environment["FLOWMESH_CLUSTER__TLS__KEY"] = key;
            var (exit, line) = await OneLineErrorAsync(info);
            Assert.Equal(2, exit);
            Assert.Contains(expected, line, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static async Task AssertRefusedAsync<T>(string stranger, string what, Func<Task<T>> attempt)
    {
        var clock = Stopwatch.StartNew();
        var error = await Record.ExceptionAsync(async () => await attempt());
        Assert.True(error is TimeoutException or DeadLetterException or OperationCanceledException,
            $"a stranger with {stranger} {what}: {(error is null ? "answered" : error.GetType().Name + ": " + error.Message)} after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private static async Task<Dictionary<string, long>> AggregatorStatusAsync(ClusterClient client, MemberProcess aggregator)
    {
        var fields = await ClusterClient.WaitForAsync(() => client.Member.Redis.Database.HashGetAllAsync(client.Member.Keys.AggregatorStatus(aggregator.MemberId)),
            f => f.Length > 0, "the Aggregator's status", SessionFleet.Deadline);
        return fields.Where(f => f.Value.TryParse(out long _)).ToDictionary(f => f.Name.ToString(), f => (long)f.Value);
    }

    /// <summary>Runs a command expected to stop at start: its exit status and its one error line (and that there is no stack trace).</summary>
    private static async Task<(int Exit, string Line)> OneLineErrorAsync(ProcessStartInfo info)
    {
        var (exit, _, stderr) = await NodeCommand.RunAsync(info);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("flowmesh: error:", StringComparison.Ordinal));
        return (exit, line);
    }
}
