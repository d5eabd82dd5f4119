using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.SystemTests.Harness;

namespace FlowMesh.SystemTests;

/// <summary>
/// End-to-end sessions: a client on one host, a server on another (namespaces made by
/// the test), a real Node on each, a real Aggregator, a real redis-server.
/// </summary>
public sealed class SessionTests
{
    private const int Port = 8080;
    private const int ClosedPort = Port + 1;

    private static readonly TimeSpan Deadline = SessionFleet.Deadline;

    /// <summary>The fleet of these tests (<see cref="SessionFleet"/>), capturing only their two ports.</summary>
    private static class Fleet
    {
        public static Task<SessionFleet> StartAsync(string netnsA, string netnsB, bool injectTag, params string[] aggregatorFlags) =>
            StartAsync(netnsA, netnsB, injectTag, null, aggregatorFlags);

        public static Task<SessionFleet> StartAsync(string netnsA, string netnsB, bool injectTag, IReadOnlyDictionary<string, string>? nodeEnvironment, params string[] aggregatorFlags) =>
            SessionFleet.StartAsync(netnsA, netnsB, [Port, ClosedPort], injectTag, nodeEnvironment, aggregatorFlags);
    }

    [Fact]
    public async Task A_tag_the_fleet_did_not_sign_never_joins_and_is_counted_and_keys_rotate_without_a_restart()
    {
        var directory = Directory.CreateTempSubdirectory("flowmesh-tag-keys-");
        try
        {
            var (keysA, keysB) = (Path.Combine(directory.FullName, "a"), Path.Combine(directory.FullName, "b"));
            var (k1, k2, stranger) = (TestTls.NewTagKey(), TestTls.NewTagKey(), TestTls.NewTagKey());
            // host-a signs with a key host-b does not hold: its tags are what a SYN from outside the fleet would carry.
            await File.WriteAllTextAsync(keysA, stranger + "\n");
            await File.WriteAllTextAsync(keysB, k1 + "\n");
            using var hosts = TwoHosts.Create();
            using var listener = hosts.B.Inside(() => Sockets.Listen(IPAddress.Parse(hosts.AddressB), Port));
            await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, [Port, ClosedPort], injectTag: true,
                new Dictionary<string, string> { ["FLOWMESH_NODE__TAGKEYFILE"] = keysA }, new Dictionary<string, string> { ["FLOWMESH_NODE__TAGKEYFILE"] = keysB },
                aggregators: 1, []);

            async Task<SessionView> ExchangeAsync()
            {
                var (c, _) = OneConnection(hosts.A, IPAddress.Parse(hosts.AddressB), listener);
                return (await fleet.SessionOfAsync("host-a", c, s => s.Closed && s.Server is not null)).Session;
            }

            // The server side leaves the tag out (it never joins by it): each side settles alone.
            var (client, server) = OneConnection(hosts.A, IPAddress.Parse(hosts.AddressB), listener);
            var (serverFlow, serverSession) = await fleet.SessionOfAsync("host-b", server, s => s.Closed);
            Assert.True(serverFlow.TagReceived && serverFlow.TagForged, "host-b did not mark the tag it never signed");
            Assert.Equal(0UL, serverFlow.TraceTag);
            Assert.Null(serverSession.Client);
            var (clientFlow, clientSession) = await fleet.SessionOfAsync("host-a", client, s => s.Closed);
            Assert.Equal(SessionKeys.For(clientFlow), clientSession.Id.Split('@')[0]);
            Assert.StartsWith("tag:", clientSession.Id, StringComparison.Ordinal);
            Assert.Null(clientSession.Server);
            await ClusterClient.WaitForAsync(() => fleet.Client.StatusAsync(fleet.B), s => s.TagsForged == 1, "host-b to count the tag it did not sign", Deadline);

            // Rotation, as the README says, each file rewritten in place while the Nodes run:
            // host-a takes the fleet's key; then both accept k2, then sign with it, then drop k1.
            async Task RotateAsync(string file, MemberProcess node, string content)
            {
                int Loads() => node.Log.Count(l => l.Contains("Trace tag keys from", StringComparison.Ordinal));
                var before = Loads();
                await File.WriteAllTextAsync(file, content);
                var signing = FlowMesh.Node.Flows.TagAuthenticator.Key.FromHex(content.Split('\n')[0]).Id;
                await ClusterClient.WaitForAsync(() => Task.FromResult(Loads()), n => n > before, $"{node.HostId} to read its new keys", Deadline);
                Assert.Contains($"signing with {signing}, accepting", node.Log.Last(l => l.Contains("Trace tag keys from", StringComparison.Ordinal)), StringComparison.Ordinal);
            }
            // Joined by the tag: the server's side is in the session under the tag (a side whose tag
            // failed would be under its ISN pair). A side may come after the join window on a busy
            // machine (a late join), so the key says it, not the join method.
            static void JoinedByTag(SessionView s) => Assert.True(s.Id.StartsWith("tag:", StringComparison.Ordinal) && s.Server is { HostId: "host-b" }, $"not joined by its tag: {s}");
            await RotateAsync(keysA, fleet.A, k1 + "\n");
            JoinedByTag(await ExchangeAsync());
            await RotateAsync(keysB, fleet.B, k1 + "\n" + k2 + "\n");
            await RotateAsync(keysA, fleet.A, k2 + "\n" + k1 + "\n");
            JoinedByTag(await ExchangeAsync());
            await RotateAsync(keysB, fleet.B, k2 + "\n");
            await RotateAsync(keysA, fleet.A, k2 + "\n");
            JoinedByTag(await ExchangeAsync());
            Assert.Equal(1, (await fleet.Client.StatusAsync(fleet.B)).TagsForged);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>
    /// A replay: a real connection's signed tag copied into the SYN of another connection,
    /// made of raw packets (Scripts/replay_tag.py) under an ISN of its own. The server's
    /// Node sees the tag, finds it was not signed for this connection's ISN, and counts it.
    /// </summary>
    [Fact]
    public async Task A_signed_tag_replayed_in_another_connections_SYN_is_counted_and_never_joins()
    {
        using var hosts = TwoHosts.Create();
        using var listener = hosts.B.Inside(() => Sockets.Listen(IPAddress.Parse(hosts.AddressB), Port));
        await using var fleet = await Fleet.StartAsync(hosts.A.Name, hosts.B.Name, injectTag: true);
        var (c, _) = OneConnection(hosts.A, IPAddress.Parse(hosts.AddressB), listener);
        var (flow, session) = await fleet.SessionOfAsync("host-a", c, s => s.Closed && s.Server is not null);
        Assert.Equal(JoinMethod.Tag, session.Join); // the tag is good on its own connection
        Assert.Equal(0, (await fleet.Client.StatusAsync(fleet.B)).TagsForged);

        // The kernel of host-a knows no socket for the raw connection and would reset the SYN-ACK:
        // its resets are dropped, the script's own (marked) pass.
        hosts.A.Exec("nft", "add table ip fm_replay");
        hosts.A.Exec("nft", "add chain ip fm_replay out { type filter hook output priority 0 ; }");
        hosts.A.Exec("nft", "add rule ip fm_replay out tcp flags rst meta mark != 0x464d drop");
        var printed = await NamespaceProgram.RunAsync(hosts.A, "the raw replaying client", Deadline, "/usr/bin/python3",
            Path.Combine(AppContext.BaseDirectory, "Scripts", "replay_tag.py"), hosts.AddressA, hosts.AddressB, $"{Port}", $"{flow.TraceTag}");
        var isn = uint.Parse(printed[^1], System.Globalization.CultureInfo.InvariantCulture);

        var status = await ClusterClient.WaitForAsync(() => fleet.Client.StatusAsync(fleet.B), s => s.TagsForged == 1, "host-b to count the replayed tag", Deadline);
        Assert.Equal(0, status.KernelDrops);
        // The replayed side is its own session, by its ISN pair; the real one is still the only side under the tag.
        var stored = await ClusterClient.WaitForAsync(fleet.StoredSessionsAsync, all => all.Any(s => s.Server is { IsnKnown: true } server && server.IsnRemote == isn),
            "the replayed side's session to be stored", Deadline);
        var replayed = Assert.Single(stored, s => s.Server is { IsnKnown: true } server && server.IsnRemote == isn);
        Assert.Null(replayed.Client);
        Assert.NotEqual(JoinMethod.Tag, replayed.Join);
        Assert.Single(stored, s => s.TraceTag == flow.TraceTag);
    }

    /// <summary>Client on host A, 5000 bytes up, 3000 down, client closes first.</summary>
    private static (ulong ClientCookie, ulong ServerCookie) OneConnection(TestNamespace clientHost, IPAddress server, Socket listener)
    {
        using var connection = clientHost.Inside(() => new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
        connection.Connect(server, Port);
        var accepted = listener.Accept();
        var cookies = (Sockets.FlowCookie(connection), Sockets.FlowCookie(accepted));
        Sockets.Exchange(connection, accepted, 5000, 3000);
        Sockets.CloseClientFirst(connection, accepted);
        return cookies;
    }

    [Fact]
    public async Task A_connection_between_two_hosts_is_one_session_joined_by_its_trace_tag()
    {
        using var hosts = TwoHosts.Create();
        // The server listens before any Node starts (a listener the programs must arm).
        using var listener = hosts.B.Inside(() => Sockets.Listen(IPAddress.Parse(hosts.AddressB), Port));
        await using var fleet = await Fleet.StartAsync(hosts.A.Name, hosts.B.Name, injectTag: true);

        var (c, _) = OneConnection(hosts.A, IPAddress.Parse(hosts.AddressB), listener);
        var (flow, session) = await fleet.SessionOfAsync("host-a", c, s => s.Closed && s.Join != JoinMethod.OneSided);

        Assert.Equal(JoinMethod.Tag, session.Join);
        Assert.Equal($"tag:{flow.TraceTag:x16}", session.Id);
        Assert.True(session.TagSent && session.TagEchoed && session.TagSeenByServer);
        Assert.Equal(("host-a", "host-b"), (session.ClientHost, session.ServerHost));
        Assert.Equal((hosts.AddressA, hosts.AddressB, (uint)Port), (session.Client.LocalAddress, session.Client.RemoteAddress, session.Client.RemotePort));
        Assert.Equal((hosts.AddressB, (uint)Port, hosts.AddressA), (session.Server.LocalAddress, session.Server.LocalPort, session.Server.RemoteAddress));
        Assert.Equal((5000UL, 3000UL), (session.BytesClientToServer, session.BytesServerToClient));
        Assert.False(session.BytesMismatch);
        Assert.Equal("none", session.Reset);
        Assert.True(session.Complete);
        Assert.False(session.Ambiguous);
        Assert.True(session.ConnectMs > 0 && session.ServerHandshakeMs > 0, $"connect {session.ConnectMs} ms, server handshake {session.ServerHandshakeMs} ms");
        Assert.True(session.ClientDurationMs > 0 && session.ServerDurationMs > 0);
        Assert.Equal((uint)Environment.ProcessId, session.Client.Pid);
        // The process's name, not the name of the thread that connected.
        Assert.Equal(Process.GetCurrentProcess().ProcessName, session.ClientWorkload);
        var (a, b) = (await fleet.Client.StatusAsync(fleet.A), await fleet.Client.StatusAsync(fleet.B));
        Assert.Equal((1L, 1L, 0L), (a.TagsSent, a.TagsEchoed, a.TagsReceived));
        Assert.Equal((0L, 0L, 1L), (b.TagsSent, b.TagsEchoed, b.TagsReceived));

        // What a user types: `session get`, `flow get` and `cluster status`.
        string[] where = ["--redis", fleet.Redis.Endpoint, "--cluster", fleet.Cluster];
        var (exit, stdout, stderr) = await NodeCommand.RunAsync(NodeCommand.AggregatorStartInfo(["session", "get", session.Id, .. where]));
        Assert.True(exit == 0, stderr);
        var printed = Google.Protobuf.JsonParser.Default.Parse<SessionView>(stdout);
        Assert.Equal((session.Id, JoinMethod.Tag, 5000UL), (printed.Id, printed.Join, printed.BytesClientToServer));
        (exit, stdout, stderr) = await NodeCommand.RunAsync(NodeCommand.StartInfo(["flow", "get", $"host-b/{session.Server.Cookie}", .. where]));
        Assert.True(exit == 0, stderr);
        Assert.Equal((FlowRole.Server, session.TraceTag), (Google.Protobuf.JsonParser.Default.Parse<FlowView>(stdout).Role, Google.Protobuf.JsonParser.Default.Parse<FlowView>(stdout).TraceTag));
        var status = await ClusterClient.WaitForAsync(async () => (await NodeCommand.RunAsync(NodeCommand.StartInfo(["cluster", "status", .. where]))).Stdout,
            o => o.Contains($"aggregator {fleet.Aggregator.MemberId}: ", StringComparison.Ordinal) && o.Contains(" sessions_tag=1 ", StringComparison.Ordinal),
            "cluster status to show the Aggregator's counters", Deadline);
        Assert.Contains("node host-a: ", status, StringComparison.Ordinal);
        (exit, _, stderr) = await NodeCommand.RunAsync(NodeCommand.AggregatorStartInfo(["session", "get", "tag:0000000000000001", .. where]));
        Assert.Equal((3, "flowmesh: session tag:0000000000000001 not found"), (exit, stderr.Trim()));
        Assert.Equal($"{hosts.AddressB}:{Port}", session.ServerEndpoint);
        Assert.True(session.EndUnixMs >= session.StartUnixMs && Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - session.StartUnixMs) < 60_000);
    }

    [Fact]
    public async Task A_session_is_exported_over_OTLP_as_a_trace_whose_id_is_the_tag()
    {
        using var receiver = OtlpReceiver.Start();
        using var hosts = TwoHosts.Create();
        using var listener = hosts.B.Inside(() => Sockets.Listen(IPAddress.Parse(hosts.AddressB), Port));
        await using var fleet = await Fleet.StartAsync(hosts.A.Name, hosts.B.Name, injectTag: true, "--otlp-endpoint", receiver.BaseUrl);

        var (c, _) = OneConnection(hosts.A, IPAddress.Parse(hosts.AddressB), listener);
        var (flow, session) = await fleet.SessionOfAsync("host-a", c, s => s.Closed && s.Join == JoinMethod.Tag);

        var traceId = new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(traceId, flow.TraceTag);
        BinaryPrimitives.WriteUInt64BigEndian(traceId.AsSpan(8), flow.TraceTag);
        var spans = await ClusterClient.WaitForAsync(
            () => Task.FromResult(receiver.Spans.Where(s => s.TraceId.Span.SequenceEqual(traceId)).ToList()),
            s => s.Count >= 3, $"3 spans of trace {Convert.ToHexStringLower(traceId)}", Deadline);
        Assert.Empty(receiver.Errors);
        Assert.Equal(3, spans.Count);

        const int Internal = 1, Server = 2, Client = 3;
        var root = Assert.Single(spans, s => s.Kind == Internal);
        var client = Assert.Single(spans, s => s.Kind == Client);
        var server = Assert.Single(spans, s => s.Kind == Server);
        Assert.True(root.ParentSpanId.IsEmpty);
        Assert.Equal(root.SpanId, client.ParentSpanId);
        Assert.Equal(root.SpanId, server.ParentSpanId);

        // Each span is its host's kernel timestamps in wall-clock time (at the 100 ns a DateTime holds).
        static ulong Ticks(long unixNs) => (ulong)(unixNs / 100 * 100);
        Assert.Equal((Ticks(session.Client.StartUnixNs), Ticks(session.Client.EndUnixNs)), (client.StartTimeUnixNano, client.EndTimeUnixNano));
        Assert.Equal((Ticks(session.Server.StartUnixNs), Ticks(session.Server.EndUnixNs)), (server.StartTimeUnixNano, server.EndTimeUnixNano));
        Assert.Equal(Math.Min(client.StartTimeUnixNano, server.StartTimeUnixNano), root.StartTimeUnixNano);
        Assert.Equal(Math.Max(client.EndTimeUnixNano, server.EndTimeUnixNano), root.EndTimeUnixNano);
        Assert.True(client.StartTimeUnixNano < client.EndTimeUnixNano && server.StartTimeUnixNano < server.EndTimeUnixNano);
        // The server's SYN arrives after the client sent it: the two hosts' clocks agree here (one kernel).
        Assert.True(server.StartTimeUnixNano >= client.StartTimeUnixNano);
        var now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        Assert.InRange(root.StartTimeUnixNano, now - 60_000_000_000UL, now);

        static string? Attribute(Otlp.Span span, string key) =>
            span.Attributes.FirstOrDefault(a => a.Key == key)?.Value is { } v ? v.ValueCase switch
            {
                Otlp.AnyValue.ValueOneofCase.StringValue => v.StringValue,
                Otlp.AnyValue.ValueOneofCase.IntValue => v.IntValue.ToString(CultureInfo.InvariantCulture),
                Otlp.AnyValue.ValueOneofCase.BoolValue => v.BoolValue ? "true" : "false",
                _ => v.ToString(),
            } : null;
        Assert.Equal("tag", Attribute(root, "flowmesh.join"));
        Assert.Equal(session.Id, Attribute(root, "flowmesh.session.id"));
        Assert.Equal("5000", Attribute(root, "flowmesh.bytes_client_to_server"));
        Assert.Equal(("host-a", hosts.AddressB), (Attribute(client, "flowmesh.host"), Attribute(client, "net.sock.peer.addr")));
        Assert.Equal(("host-b", "8080"), (Attribute(server, "flowmesh.host"), Attribute(server, "net.sock.host.port")));
        // Spelt as the gateway spells them.
        Assert.Equal(("normal", "normal"), (Attribute(client, "flowmesh.close_reason"), Attribute(server, "flowmesh.close_reason")));
        Assert.Equal(0, (await fleet.AggregatorStatusAsync()).GetValueOrDefault("spans_dropped"));

        // With the collector gone, the next session's three spans are counted as lost, not lost without a word.
        receiver.Dispose();
        var (after, _) = OneConnection(hosts.A, IPAddress.Parse(hosts.AddressB), listener);
        await fleet.SessionOfAsync("host-a", after, s => s.Closed && s.Join == JoinMethod.Tag);
        await ClusterClient.WaitForAsync(() => fleet.AggregatorStatusAsync(), c => c.GetValueOrDefault("spans_dropped") == 3,
            "the spans sent to a collector that is gone to be counted as dropped", Deadline);
    }

    [Fact]
    public async Task A_long_lived_connection_is_a_joined_session_while_it_is_open_and_settles_when_it_closes()
    {
        using var hosts = TwoHosts.Create();
        using var listener = hosts.B.Inside(() => Sockets.Listen(IPAddress.Parse(hosts.AddressB), Port));
        // Open flows report themselves every second here (a minute by default).
        await using var fleet = await Fleet.StartAsync(hosts.A.Name, hosts.B.Name, injectTag: true,
            new Dictionary<string, string> { ["FLOWMESH_FLOWS__SESSIONREPORTSECONDS"] = "1" });

        using var connection = hosts.A.Inside(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        connection.Connect(IPAddress.Parse(hosts.AddressB), Port);
        using var accepted = listener.Accept();
        Sockets.SendAll(connection, Sockets.Pattern(700, 1));
        Sockets.ReceiveExactly(accepted, 700);
        var cookie = Sockets.FlowCookie(connection);
        // The client learns of the echo just after it is established: its key is the tag from then on.
        var flow = (await ClusterClient.WaitForAsync(() => fleet.Client.QueryAsync("host-a", cookie), r => r.Found && r.Flow.TagEchoed, "the open flow", Deadline)).Flow;
        var key = SessionKeys.For(flow);

        var open = (await ClusterClient.WaitForAsync(() => fleet.Client.QuerySessionAsync(key),
            r => r.Found && r.Session.Client is not null && r.Session.Server is not null, $"open session {key}", Deadline)).Session;
        Assert.False(open.Closed);
        Assert.Equal(JoinMethod.Tag, open.Join);
        Assert.Equal(("TCP_ESTABLISHED", "TCP_ESTABLISHED"), (open.Client.State, open.Server.State));
        Assert.Equal($"tag:{flow.TraceTag:x16}", open.Id);

        Sockets.CloseClientFirst(connection, accepted);
        var closed = (await ClusterClient.WaitForAsync(() => fleet.Client.QuerySessionAsync(key), r => r.Found && r.Session.Closed, $"session {key} to close", Deadline)).Session;
        Assert.Equal((JoinMethod.Tag, "none", 700UL), (closed.Join, closed.Reset, closed.BytesClientToServer));
        Assert.Equal((CloseReason.Normal, CloseReason.Normal), (closed.Client.CloseReason, closed.Server.CloseReason));
    }

    [Fact]
    public async Task A_connection_both_Nodes_first_saw_mid_life_is_joined_by_its_addresses()
    {
        using var hosts = TwoHosts.Create();
        using var listener = hosts.B.Inside(() => Sockets.Listen(IPAddress.Parse(hosts.AddressB), Port));
        // Opened before any Node runs: no SYN, no ISNs, no tag; only the four addresses and ports.
        using var connection = hosts.A.Inside(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        connection.Connect(IPAddress.Parse(hosts.AddressB), Port);
        using var accepted = listener.Accept();
        var cookie = Sockets.FlowCookie(connection);
        await using var fleet = await Fleet.StartAsync(hosts.A.Name, hosts.B.Name, injectTag: true);

        Sockets.SendAll(connection, Sockets.Pattern(100, 1));
        Sockets.ReceiveExactly(accepted, 100);
        Sockets.CloseClientFirst(connection, accepted);
        var (flow, session) = await fleet.SessionOfAsync("host-a", cookie, s => s.Closed && s.Join != JoinMethod.OneSided);

        Assert.True(flow.MidLife);
        Assert.Equal(JoinMethod.Tuple, session.Join);
        Assert.StartsWith($"tuple:{hosts.AddressA}:{flow.LocalPort}|{hosts.AddressB}:{Port}@", session.Id, StringComparison.Ordinal);
        Assert.False(session.Ambiguous);
        Assert.Equal(("host-a", "host-b"), (session.ClientHost, session.ServerHost)); // the end on the lower port is taken for the server
        Assert.True(session.Client.MidLife && session.Server.MidLife);
        Assert.False(session.TagSent);
    }

    // Under load the client's host can hand its side over more than a join window after the
    // restarted host hands over the mid-life one: the mid-life side then looks for its peer's
    // tuple before the peer has published it (it once failed so in half the full runs).
    [Fact]
    public async Task A_side_first_seen_mid_life_joins_its_peers_ISN_session_by_tuple()
    {
        using var hosts = TwoHosts.Create();
        using var listener = hosts.B.Inside(() => Sockets.Listen(IPAddress.Parse(hosts.AddressB), Port));
        await using var fleet = await Fleet.StartAsync(hosts.A.Name, hosts.B.Name, injectTag: false);
        // host-a sees the SYN (ISNs known); host-b's Node dies (SIGKILL: it saves nothing) and a new one
        // starts while the connection is open, so host-b knows it only mid-life, by its addresses.
        using var connection = hosts.A.Inside(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        connection.Connect(IPAddress.Parse(hosts.AddressB), Port);
        using var accepted = listener.Accept();
        var cookie = Sockets.FlowCookie(connection);
        await fleet.B.CrashAsync();
        await using var restarted = await MemberProcess.StartAsync("host-b", fleet.Redis, fleet.Cluster,
            ["--netns", hosts.B.Name, "--capture-port", $"{Port}", "--capture-port", $"{ClosedPort}"]);

        Sockets.SendAll(connection, Sockets.Pattern(100, 1));
        Sockets.ReceiveExactly(accepted, 100);
        Sockets.CloseClientFirst(connection, accepted);
        var (flow, session) = await fleet.SessionOfAsync("host-a", cookie, s => s.Closed && s.Join != JoinMethod.OneSided);

        Assert.False(flow.MidLife);
        Assert.StartsWith("isn:", session.Id, StringComparison.Ordinal); // the peer's session, under its ISN key
        Assert.Equal(JoinMethod.Tuple, session.Join);
        Assert.Equal(("host-a", "host-b"), (session.ClientHost, session.ServerHost));
        Assert.True(session.Server.MidLife);
        Assert.False(session.Client.MidLife);
        Assert.Equal((100UL, 0UL), (session.BytesClientToServer, session.BytesServerToClient));
        var moved = await ClusterClient.WaitForAsync(() => fleet.AggregatorStatusAsync(), c => c.GetValueOrDefault("moved_to_peer") == 1,
            "the Aggregator to count the moved side", Deadline);
        Assert.Equal(1, moved["late_joins"]);
    }

    [Fact]
    public async Task Several_Aggregators_share_the_sessions_and_each_is_joined_once()
    {
        using var hosts = TwoHosts.Create();
        using var listener = hosts.B.Inside(() => Sockets.Listen(IPAddress.Parse(hosts.AddressB), Port));
        await using var fleet = await Fleet.StartAsync(hosts.A.Name, hosts.B.Name, injectTag: true);
        await using var second = await MemberProcess.StartAggregatorAsync(fleet.Redis, fleet.Cluster, ["--join-window", "1"]);
        await ClusterClient.WaitForAsync(() => Task.FromResult(fleet.Client.MemberIds), ids => ids.Count == 4, "two Nodes and two Aggregators", Deadline);
        await ClusterClient.WaitForAsync(() => fleet.Client.StatusAsync(fleet.A), s => s.Members.Count == 4, "host-a to see both Aggregators", Deadline);

        var cookies = new List<ulong>();
        for (var i = 0; i < 20; i++)
            cookies.Add(OneConnection(hosts.A, IPAddress.Parse(hosts.AddressB), listener).ClientCookie);
        var sessions = new List<SessionView>();
        foreach (var c in cookies)
            sessions.Add((await fleet.SessionOfAsync("host-a", c, s => s.Closed && s.Join == JoinMethod.Tag)).Session);

        Assert.Equal(20, sessions.Select(s => s.Id).Distinct().Count());
        Assert.All(sessions, s => Assert.Equal((5000UL, 3000UL), (s.BytesClientToServer, s.BytesServerToClient)));
        // Each Aggregator joined some of them, and together exactly these: none twice, none one-sided.
        var counts = await ClusterClient.WaitForAsync(async () => await Task.WhenAll(new[] { fleet.Aggregator, second }.Select(a => AggregatorCountsAsync(fleet, a))),
            c => c.Sum(x => x.Tag) == 20, "both Aggregators' counters", Deadline);
        Assert.All(counts, c => Assert.True(c.Tag > 0, $"an Aggregator joined no session: {string.Join(", ", counts)}"));
        Assert.All(counts, c => Assert.Equal(0, c.OneSided));
    }

    private static async Task<(long Tag, long OneSided)> AggregatorCountsAsync(SessionFleet fleet, MemberProcess aggregator)
    {
        var fields = await fleet.Client.Member.Redis.Database.HashGetAllAsync(new RedisKeys(fleet.Cluster).AggregatorStatus(aggregator.MemberId));
        long Field(string name) => (long?)fields.FirstOrDefault(f => f.Name == name).Value ?? 0;
        return (Field("sessions_tag"), Field("sessions_one_sided"));
    }

    [Fact]
    public async Task Without_tag_injection_the_session_is_joined_by_the_ISN_pair()
    {
        using var hosts = TwoHosts.Create();
        using var listener = hosts.B.Inside(() => Sockets.Listen(IPAddress.Parse(hosts.AddressB), Port));
        await using var fleet = await Fleet.StartAsync(hosts.A.Name, hosts.B.Name, injectTag: false);

        var (c, _) = OneConnection(hosts.A, IPAddress.Parse(hosts.AddressB), listener);
        var (flow, session) = await fleet.SessionOfAsync("host-a", c, s => s.Closed && s.Join != JoinMethod.OneSided);

        Assert.Equal(JoinMethod.Isn, session.Join);
        Assert.Equal(0UL, session.TraceTag);
        Assert.Equal($"isn:{flow.IsnLocal:x8}-{flow.IsnRemote:x8}", session.Id);
        Assert.Equal((5000UL, 3000UL), (session.BytesClientToServer, session.BytesServerToClient));
        Assert.Equal(("host-a", "host-b"), (session.ClientHost, session.ServerHost));
    }

    [Fact]
    public async Task Through_a_NAT_the_session_is_joined_by_ISN_and_each_side_keeps_the_addresses_it_saw()
    {
        using var nat = NatHosts.Create();
        using var listener = nat.Server.Inside(() => Sockets.Listen(IPAddress.Parse(nat.ServerAddress), Port));
        await using var fleet = await Fleet.StartAsync(nat.Client.Name, nat.Server.Name, injectTag: false);

        // The client dials the router's public address; the router forwards it to the server and masquerades the source.
        var (c, _) = OneConnection(nat.Client, IPAddress.Parse(nat.PublicAddress), listener);
        var (_, session) = await fleet.SessionOfAsync("host-a", c, s => s.Closed && s.Join != JoinMethod.OneSided);

        Assert.Equal(JoinMethod.Isn, session.Join);
        Assert.Equal((nat.ClientAddress, nat.PublicAddress, (uint)Port), (session.Client.LocalAddress, session.Client.RemoteAddress, session.Client.RemotePort));
        Assert.Equal((nat.ServerAddress, (uint)Port, nat.RouterInsideAddress), (session.Server.LocalAddress, session.Server.LocalPort, session.Server.RemoteAddress));
        Assert.NotEqual(0u, session.Client.LocalPort);
        Assert.Equal((5000UL, 3000UL), (session.BytesClientToServer, session.BytesServerToClient));
        Assert.False(session.BytesMismatch);
    }

    [Fact]
    public async Task Resets_refusals_and_peers_outside_the_fleet_are_told_apart()
    {
        using var hosts = TwoHosts.Create();
        using var outside = TestNamespace.Create("c");
        TestNamespace.Link(hosts.A, "10.215.7.1", outside, "10.215.7.2");
        using var listener = hosts.B.Inside(() => Sockets.Listen(IPAddress.Parse(hosts.AddressB), Port));
        using var foreign = outside.Inside(() => Sockets.Listen(IPAddress.Parse("10.215.7.2"), Port));
        await using var fleet = await Fleet.StartAsync(hosts.A.Name, hosts.B.Name, injectTag: true);

        // 1. The server resets the connection (SO_LINGER 0).
        ulong resetCookie;
        using (var connection = hosts.A.Inside(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)))
        {
            connection.Connect(IPAddress.Parse(hosts.AddressB), Port);
            var accepted = listener.Accept();
            resetCookie = Sockets.FlowCookie(connection);
            Sockets.SendAll(connection, Sockets.Pattern(10, 1));
            Sockets.ReceiveExactly(accepted, 10);
            Sockets.CloseAbortively(accepted);
            Assert.ThrowsAny<SocketException>(() => { while (connection.Receive(new byte[16]) > 0) { } });
        }
        var (_, reset) = await fleet.SessionOfAsync("host-a", resetCookie, s => s.Closed && s.Join != JoinMethod.OneSided);
        Assert.Equal("server", reset.Reset);
        Assert.Equal(JoinMethod.Tag, reset.Join);
        Assert.Equal(CloseReason.ResetReceived, reset.Client.CloseReason);
        Assert.Equal(CloseReason.ResetSent, reset.Server.CloseReason);

        // 2. Refused: nothing listens on that port of host B.
        ulong refusedCookie;
        using (var connection = hosts.A.Inside(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)))
        {
            Assert.Throws<SocketException>(() => connection.Connect(IPAddress.Parse(hosts.AddressB), ClosedPort));
            refusedCookie = Sockets.FlowCookie(connection);
        }
        var (_, refused) = await fleet.SessionOfAsync("host-a", refusedCookie, s => s.Closed);
        Assert.Equal(JoinMethod.OneSided, refused.Join);
        Assert.Equal("server", refused.Reset);
        Assert.Equal(CloseReason.Refused, refused.Client.CloseReason);
        Assert.Null(refused.Server);
        Assert.True(refused.TagSent);
        Assert.False(refused.TagEchoed);

        // 3. A server in a namespace with no Node: only the client's side exists, and its tag never came back.
        ulong outsideCookie;
        using (var connection = hosts.A.Inside(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)))
        {
            connection.Connect(IPAddress.Parse("10.215.7.2"), Port);
            var accepted = foreign.Accept();
            outsideCookie = Sockets.FlowCookie(connection);
            Sockets.CloseClientFirst(connection, accepted);
        }
        var (_, oneSided) = await fleet.SessionOfAsync("host-a", outsideCookie, s => s.Closed);
        Assert.Equal(JoinMethod.OneSided, oneSided.Join);
        Assert.Equal("none", oneSided.Reset);
        Assert.Null(oneSided.Server);
        Assert.Equal("10.215.7.2:8080", oneSided.ServerEndpoint);
        Assert.True(oneSided.TagSent);
        Assert.False(oneSided.TagEchoed); // peer not instrumented (or the option was stripped on the way)

        // Tag survival per edge (client process -> server address:port), as counted by the Aggregator.
        var workload = oneSided.ClientWorkload;
        long Count(Dictionary<string, JsonElement> edges, string server, string field) =>
            edges.TryGetValue($"{workload}>{server}", out var e) ? e.GetProperty(field).GetInt64() : 0;
        var edges = await ClusterClient.WaitForAsync(fleet.TagEdgesAsync, e => e.Count == 3, "three edges with tag counts", Deadline);
        Assert.Equal((1L, 1L, 1L), (Count(edges, $"{hosts.AddressB}:{Port}", "sessions"), Count(edges, $"{hosts.AddressB}:{Port}", "sent"), Count(edges, $"{hosts.AddressB}:{Port}", "survived")));
        Assert.Equal((1L, 1L), (Count(edges, $"{hosts.AddressB}:{ClosedPort}", "sent"), Count(edges, $"{hosts.AddressB}:{ClosedPort}", "no_handshake")));
        Assert.Equal((1L, 1L, 0L), (Count(edges, "10.215.7.2:8080", "sent"), Count(edges, "10.215.7.2:8080", "peer_not_instrumented"), Count(edges, "10.215.7.2:8080", "survived")));
    }
}
