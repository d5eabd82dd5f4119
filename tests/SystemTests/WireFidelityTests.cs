using System.Diagnostics;
using System.Globalization;
using FlowMesh.Contracts.Messages;
using FlowMesh.SystemTests.Harness;
using FlowMesh.TestSupport;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace FlowMesh.SystemTests;

/// <summary>
/// Wire fidelity (issue 11): real servers on host B and real clients on host A (programs
/// nobody in this project wrote, and Python sockets for resets and half-closes), a Node
/// on each host, an Aggregator, and tcpdump on both ends of the wire. Every session
/// FlowMesh stored is held against the connections the packets show: one session per
/// connection, none that the wire does not have, both sides of every established one,
/// the bytes each way that the peer acknowledged, and who reset it.
/// </summary>
public sealed class WireFidelityTests(ITestOutputHelper output)
{
    private const int RedisRequests = 1500;
    private const int SeparateCurls = 40;
    private const int KeepAliveCurls = 5;
    private const int RequestsPerKeepAlive = 5;
    private const int PythonRepeats = 20;
    private const int PageBytes = 6000;
    private const int Listed = 10;

    private const string Python = "/usr/bin/python3";
    private const string RedisBenchmark = "/usr/bin/redis-benchmark";
    private const string Curl = "/usr/bin/curl";

    private static readonly TimeSpan WorkloadDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan SettleDeadline = TimeSpan.FromSeconds(45);

    /// <summary>
    /// How long the counts must hold still to call FlowMesh settled: the Aggregator
    /// publishes its counters to Redis each second, so two of its publications agree.
    /// </summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(2.5);

    /// <summary>The ports of the test's servers on host B (and one nobody listens on), all free loopback ports so no other test's traffic shares them.</summary>
    private sealed record WorkloadPorts(int Redis, int Http, int ServerReset, int ClientAbort, int HalfClose, int Closed)
    {
        public int[] All => [Redis, Http, ServerReset, ClientAbort, HalfClose, Closed];

        public string KindOf(int serverPort) =>
            serverPort == Redis ? "redis" : serverPort == Http ? "http" : serverPort == ServerReset ? "server-reset"
            : serverPort == ClientAbort ? "client-abort" : serverPort == HalfClose ? "half-close" : serverPort == Closed ? "refused" : $"port {serverPort}";

        public static WorkloadPorts Pick()
        {
            var picked = new HashSet<int>();
            while (picked.Count < 6)
                picked.Add(LoopbackPort.Free());
            var p = picked.ToArray();
            return new WorkloadPorts(p[0], p[1], p[2], p[3], p[4], p[5]);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_connection_on_the_wire_is_one_session_with_the_bytes_and_the_reset_the_wire_shows(bool tags)
    {
        RequirePrograms();
        var clock = Stopwatch.StartNew();
        var mode = tags ? "tags on" : "tags off";
        var ports = WorkloadPorts.Pick();
        var directory = Directory.CreateTempSubdirectory("flowmesh-wire-");
        try
        {
            using var hosts = TwoHosts.Create();
            await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, ports.All, tags, null);
            var fleetSeconds = clock.Elapsed.TotalSeconds;
            await using var captureA = await WireCapture.StartAsync(hosts.A, "host-a", hosts.InterfaceA, Path.Combine(directory.FullName, "host-a.pcap"), ports.All);
            await using var captureB = await WireCapture.StartAsync(hosts.B, "host-b", hosts.InterfaceB, Path.Combine(directory.FullName, "host-b.pcap"), ports.All);
            await using var redis = await NamespaceServers.RedisAsync(hosts.B, "redis-server on host-b", hosts.AddressB, ports.Redis, directory.FullName);
            await using var http = await StartHttpServerAsync(hosts.B, hosts.AddressB, ports.Http, directory.FullName);
            await using var sockets = await StartSocketServerAsync(hosts.B, hosts.AddressB, ports);

            var traffic = Stopwatch.StartNew();
            await Task.WhenAll(
                RunRedisBenchmarkAsync(hosts.A, hosts.AddressB, ports.Redis),
                RunCurlsAsync(hosts.A, $"http://{hosts.AddressB}:{ports.Http}/page.txt"),
                RunSocketClientsAsync(hosts.A, hosts.AddressB, ports));
            var trafficSeconds = traffic.Elapsed.TotalSeconds;

            // FlowMesh first, the wire after: the stop then comes seconds after the last packet,
            // when tcpdump has long had every one of them.
            var settling = Stopwatch.StartNew();
            var settled = await SettleAsync(fleet);
            var settleSeconds = settling.Elapsed.TotalSeconds;
            CaptureStats[] stats = [await captureA.StopAsync(), await captureB.StopAsync()];
            Assert.True(stats.All(s => s.Complete), $"the wire's account is incomplete, so it is no truth to test against: {string.Join("; ", stats)}");

            var perCapture = new List<List<WireConnection>>();
            foreach (var capture in new[] { captureA, captureB })
            {
                var (connections, strays) = WireConnections.FromCapture(capture.Host, await capture.ReadAsync());
                Assert.True(strays.Count == 0, $"{strays.Count} packets of {capture.Host}'s capture belong to no connection it saw open, e.g.: {string.Join("; ", strays.Take(5))}");
                perCapture.Add(connections);
            }
            var wire = WireConnections.Merge(perCapture);
            AssertWorkloadOnTheWire(wire, ports);

            var sessions = await fleet.StoredSessionsAsync();
            var report = Compare(wire, sessions, ports, tags, settled);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wire fidelity, {mode}: {report.Summary}; tcpdump {string.Join(", ", stats)}; fleet up {fleetSeconds:F1} s, traffic {trafficSeconds:F1} s, settled in {settleSeconds:F1} s, whole mode {clock.Elapsed.TotalSeconds:F1} s"));
            foreach (var failure in report.Failures)
                output.WriteLine(failure);
            Assert.True(report.Failures.Count == 0, $"{mode}: {report.Summary}\n\n{string.Join("\n\n", report.Failures)}");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static void RequirePrograms()
    {
        WireCapture.Require();
        (string Path, string Package)[] programs = [(RedisBenchmark, "redis-tools"), (Curl, "curl"), (Python, "python3"), (LocalRedisServer.Binary, "redis-server")];
        var missing = programs.Where(p => !File.Exists(p.Path)).Select(p => $"{p.Path} (Debian's {p.Package})").ToList();
        if (missing.Count > 0)
            throw new XunitException($"the wire-fidelity test runs real servers and clients; missing: {string.Join(", ", missing)}: install them (scripts/install-deps.sh does)");
    }

    // --- The servers, on host B ---

    private static async Task<NamespaceProgram> StartHttpServerAsync(TestNamespace host, string address, int port, string directory)
    {
        var www = Directory.CreateDirectory(Path.Combine(directory, "www")).FullName;
        // More than one segment's worth, so veth's GSO puts several segments in one packet.
        await File.WriteAllTextAsync(Path.Combine(www, "page.txt"), new string('w', PageBytes));
        // HTTP/1.1, or the server closes after each response (http.server's default is 1.0) and there is no keep-alive.
        var server = NamespaceProgram.Start(host, "http.server on host-b", Python, "-u", "-m", "http.server", $"{port}", "--bind", address,
            "--protocol", "HTTP/1.1", "--directory", www);
        return await NamespaceServers.ReadyAsync(server, l => l.StartsWith("Serving HTTP on", StringComparison.Ordinal));
    }

    /// <summary>A Python helper both inline scripts use: read exactly n bytes, or what came before the peer closed.</summary>
    private const string ReadExactly = """
        def read(c, n):
            data = b''
            while len(data) < n:
                chunk = c.recv(n - len(data))
                if not chunk:
                    break
                data += chunk
            return data
        """;

    /// <summary>
    /// Three small servers, one port each: one that resets every connection once it has
    /// read the request (SO_LINGER 0), one that answers and waits for the client to go
    /// (the client resets it), and one that answers only after the client's half-close.
    /// </summary>
    private const string SocketServer = $$"""
        import socket, struct, sys, threading
        address = sys.argv[1]
        {{ReadExactly}}
        def drain(c):
            try:
                while c.recv(65536):
                    pass
            except OSError:
                pass
        def server_reset(c):
            read(c, 100)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            c.close()
        def client_abort(c):
            read(c, 100)
            c.sendall(b'k' * 10)
            drain(c)
            c.close()
        def half_close(c):
            drain(c)
            c.sendall(b'h' * 3000)
            c.close()
        def serve(port, handle):
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((address, port))
            listener.listen(128)
            def accept():
                while True:
                    c, _ = listener.accept()
                    c.settimeout(10)
                    threading.Thread(target=handle, args=(c,), daemon=True).start()
            threading.Thread(target=accept, daemon=True).start()
        for port, handle in zip(map(int, sys.argv[2:5]), (server_reset, client_abort, half_close)):
            serve(port, handle)
        print('ready', flush=True)
        threading.Event().wait()
        """;

    private static async Task<NamespaceProgram> StartSocketServerAsync(TestNamespace host, string address, WorkloadPorts ports)
    {
        var server = NamespaceProgram.Start(host, "python socket server on host-b", Python, "-u", "-c", SocketServer, address,
            $"{ports.ServerReset}", $"{ports.ClientAbort}", $"{ports.HalfClose}");
        return await NamespaceServers.ReadyAsync(server, l => l == "ready");
    }

    // --- The clients, on host A ---

    private static async Task RunRedisBenchmarkAsync(TestNamespace host, string address, int port)
    {
        // -k 0: a new connection per request, at full speed (8 at a time).
        var printed = await NamespaceProgram.RunAsync(host, "redis-benchmark on host-a", WorkloadDeadline,
            RedisBenchmark, "-h", address, "-p", $"{port}", "-k", "0", "-c", "8", "-n", $"{RedisRequests}", "-t", "ping_inline", "-q");
        Assert.True(printed.Any(l => l.Contains("requests per second", StringComparison.Ordinal)), $"redis-benchmark did not finish its requests: {string.Join(" | ", printed)}");
    }

    private static async Task RunCurlsAsync(TestNamespace host, string url)
    {
        var clock = Stopwatch.StartNew();
        // A connection per request: a curl per request (it closes its connection when it exits).
        for (var i = 0; i < SeparateCurls && clock.Elapsed < WorkloadDeadline; i++)
            await NamespaceProgram.RunAsync(host, "curl on host-a", TimeSpan.FromSeconds(10), Curl, "-sS", "--max-time", "5", "-o", "/dev/null", url);
        // Keep-alive: one curl fetching the page several times reuses its one connection.
        string[] urls = [.. Enumerable.Repeat(url, RequestsPerKeepAlive)];
        string[] outputs = [.. Enumerable.Repeat<string[]>(["-o", "/dev/null"], RequestsPerKeepAlive).SelectMany(o => o)];
        for (var i = 0; i < KeepAliveCurls && clock.Elapsed < WorkloadDeadline; i++)
            await NamespaceProgram.RunAsync(host, "curl (keep-alive) on host-a", TimeSpan.FromSeconds(10), [Curl, "-sS", "--max-time", "5", .. outputs, .. urls]);
    }

    /// <summary>
    /// The odd endings, one of each per round: the server resets (the client reads the
    /// RST), the client resets after its request was answered (SO_LINGER 0), the client
    /// half-closes and reads the answer to the end, and a connect to a closed port.
    /// Bounded by the round count and by time; exits non-zero on any other outcome.
    /// </summary>
    private const string SocketClients = $$"""
        import socket, struct, sys, time
        address = sys.argv[1]
        reset_port, abort_port, half_port, closed_port, rounds = map(int, sys.argv[2:7])
        deadline = time.monotonic() + 40
        done = {'server-reset': 0, 'client-abort': 0, 'half-close': 0, 'refused': 0}
        def connect(port):
            return socket.create_connection((address, port), timeout=5)
        {{ReadExactly}}
        for _ in range(rounds):
            if time.monotonic() > deadline:
                break
            c = connect(reset_port)
            c.sendall(b'r' * 100)
            try:
                sys.exit(f'server-reset: read {c.recv(16)!r} instead of a reset')
            except ConnectionResetError:
                done['server-reset'] += 1
            c.close()
            c = connect(abort_port)
            c.sendall(b'a' * 100)
            if len(read(c, 10)) != 10:
                sys.exit('client-abort: no answer')
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            c.close()
            done['client-abort'] += 1
            c = connect(half_port)
            c.sendall(b'h' * 2000)
            c.shutdown(socket.SHUT_WR)
            if len(read(c, 1 << 20)) != 3000:
                sys.exit('half-close: short answer')
            c.close()
            done['half-close'] += 1
            c = socket.socket()
            c.settimeout(5)
            try:
                c.connect((address, closed_port))
                sys.exit('refused: it connected')
            except ConnectionRefusedError:
                done['refused'] += 1
            c.close()
        print(' '.join(f'{k}={v}' for k, v in done.items()), flush=True)
        sys.exit(0 if all(v == rounds for v in done.values()) else 'out of time')
        """;

    private static async Task RunSocketClientsAsync(TestNamespace host, string address, WorkloadPorts ports) =>
        await NamespaceProgram.RunAsync(host, "python socket clients on host-a", WorkloadDeadline, Python, "-c", SocketClients, address,
            $"{ports.ServerReset}", $"{ports.ClientAbort}", $"{ports.HalfClose}", $"{ports.Closed}", $"{PythonRepeats}");

    /// <summary>
    /// The traffic made what it was meant to: the test checks FlowMesh against these
    /// connections, so a workload that did something else must fail here, not there.
    /// </summary>
    private static void AssertWorkloadOnTheWire(List<WireConnection> wire, WorkloadPorts ports)
    {
        var onlyOne = wire.Where(c => c.SeenBy.Count != 2).ToList();
        Assert.True(onlyOne.Count == 0, $"{onlyOne.Count} of {wire.Count} connections are in one capture only (both ends see every packet): {List(onlyOne.Select(c => c.Describe()))}");
        var kinds = wire.GroupBy(c => ports.KindOf(c.ServerPort)).ToDictionary(g => g.Key, g => g.ToList());
        int Count(string kind) => kinds.TryGetValue(kind, out var list) ? list.Count : 0;
        var counts = string.Join(", ", kinds.Select(k => $"{k.Key} {k.Value.Count}"));
        // redis-benchmark also opens a connection or two of its own (it asks for the server's CONFIG first).
        Assert.True(Count("redis") >= RedisRequests && Count("http") == SeparateCurls + KeepAliveCurls
            && new[] { "server-reset", "client-abort", "half-close", "refused" }.All(k => Count(k) == PythonRepeats) && kinds.Count == 6,
            $"the wire does not show the workload's connections: {counts}");
        void AllOf(string kind, Func<WireConnection, bool> shape, string what)
        {
            var odd = kinds[kind].Where(c => !shape(c)).ToList();
            Assert.True(odd.Count == 0, $"{odd.Count} of {kinds[kind].Count} {kind} connections on the wire are not {what}: {List(odd.Select(c => c.Describe()))}");
        }
        AllOf("refused", c => c.Refused, "refused");
        AllOf("server-reset", c => c.HandshakeCompleted && c.ExpectedReset == "server", "established and reset by the server");
        // The answer's ACK may be delayed until the RST carries it, and an RST acknowledges nothing: 0 is as right as 10.
        AllOf("client-abort", c => c.HandshakeCompleted && c.ExpectedReset == "client" && c.Server.BytesAcked is 0 or 10, "established, answered and reset by the client");
        AllOf("half-close", c => c.HandshakeCompleted && c.ExpectedReset == "none" && c.FinExchangeCompletedUs is not null
            && (c.Client.BytesAcked, c.Server.BytesAcked) == (2000UL, 3000UL), "2000 bytes up, 3000 down and closed by FINs");
        AllOf("http", c => c.HandshakeCompleted && c.Server.BytesAcked >= PageBytes, "established with at least one page down");
    }

    // --- FlowMesh's view ---

    private sealed record Settled(bool Quiet, string Last, NodeStatus A, NodeStatus B);

    /// <summary>
    /// Waits until FlowMesh has settled every session of the traffic: every flow either
    /// Node opened has closed (closed flows stay in memory for a linger time, so "no flow
    /// active" would wait that long), every flow the Nodes handed over received by the
    /// Aggregator, no session left in memory (each leaves once settled and stored), and all of those counts, and the number of stored sessions, unchanged for
    /// <see cref="Quiet"/>. Past the deadline it returns what it last saw; the comparison
    /// then says so.
    /// </summary>
    private static async Task<Settled> SettleAsync(SessionFleet fleet)
    {
        var clock = Stopwatch.StartNew();
        var (last, stableSince) = ("", TimeSpan.Zero);
        NodeStatus a = new(), b = new();
        while (clock.Elapsed < SettleDeadline)
        {
            try
            {
                (a, b) = (await fleet.Client.StatusAsync(fleet.A), await fleet.Client.StatusAsync(fleet.B));
                var aggregator = await fleet.AggregatorStatusAsync();
                var stored = await fleet.StoredSessionCountAsync();
                long Field(string name) => aggregator.GetValueOrDefault(name);
                var now = string.Create(CultureInfo.InvariantCulture,
                    $"host-a flows opened {a.FlowsOpened}, closed {a.FlowsClosed}, handed over {a.SessionDelivered} (undelivered {a.SessionUndelivered}); "
                    + $"host-b flows opened {b.FlowsOpened}, closed {b.FlowsClosed}, handed over {b.SessionDelivered} (undelivered {b.SessionUndelivered}); "
                    + $"aggregator flows received {Field("flows_received")}, sessions active {Field("sessions_active")}; stored sessions {stored}");
                var quiet = a.FlowsOpened == a.FlowsClosed && b.FlowsOpened == b.FlowsClosed && Field("sessions_active") == 0
                    && Field("flows_received") >= a.SessionDelivered + b.SessionDelivered && stored > 0;
                if (now != last)
                    (last, stableSince) = (now, clock.Elapsed);
                else if (quiet && clock.Elapsed - stableSince >= Quiet)
                    return new Settled(true, last, a, b);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                // a status request timed out: ask again
            }
            await Task.Delay(250);
        }
        return new Settled(false, last, a, b);
    }

    private sealed record Report(string Summary, List<string> Failures);

    /// <summary>The ISN pair (client's, server's) a session's sides carry, or why they disagree.</summary>
    private static ((uint Client, uint Server)? Pair, string? Conflict) IsnPair(SessionView s)
    {
        (uint, uint)? fromClient = s.Client is { IsnKnown: true } c ? (c.IsnLocal, c.IsnRemote) : null;
        (uint, uint)? fromServer = s.Server is { IsnKnown: true } v ? (v.IsnRemote, v.IsnLocal) : null;
        if (fromClient is { } x && fromServer is { } y && x != y)
            return (null, string.Create(CultureInfo.InvariantCulture, $"its sides disagree on the ISN pair: client {x.Item1:x8}-{x.Item2:x8}, server {y.Item1:x8}-{y.Item2:x8}"));
        return (fromClient ?? fromServer, null);
    }

    /// <summary>The wire connection on a session's ports whose SYN is nearest its start (within a second): how a side with no ISN is told apart.</summary>
    private static WireConnection? ByPortsAndTime(SessionView s, IEnumerable<WireConnection> wire)
    {
        var (clientPort, serverPort) = s.Client is { } c ? (c.LocalPort, c.RemotePort) : (s.Server.RemotePort, s.Server.LocalPort);
        var startUs = (s.Client ?? s.Server).StartUnixNs / 1000;
        return wire.Where(w => w.ClientPort == clientPort && w.ServerPort == serverPort && Math.Abs(w.SynUs - startUs) < 1_000_000)
            .MinBy(w => Math.Abs(w.SynUs - startUs));
    }

    private static Report Compare(List<WireConnection> wire, IReadOnlyList<SessionView> sessions, WorkloadPorts ports, bool tags, Settled settled)
    {
        var byKey = wire.ToDictionary(c => c.Key);
        var refused = wire.Where(c => c.Refused).ToList();
        var matched = wire.ToDictionary(c => c, _ => new List<SessionView>());
        var phantoms = new List<string>();
        foreach (var s in sessions)
        {
            var (pair, conflict) = IsnPair(s);
            WireConnection? connection = null;
            if (pair is { } p)
            {
                if (!byKey.TryGetValue((p.Client, p.Server), out connection))
                    _ = byKey.TryGetValue((p.Client, null), out connection);
            }
            else if (conflict is null && s.Client is not null && s.Server is null)
            {
                // A refused connect never reaches ESTABLISHED, where the Node reads ISNs: its ports and time say which it is.
                connection = ByPortsAndTime(s, refused);
            }
            if (connection is not null)
            {
                matched[connection].Add(s);
                continue;
            }
            var why = conflict
                ?? (pair is null ? "no ISN pair, and no refused connect on its ports near its start"
                : byKey.TryGetValue((pair.Value.Server, pair.Value.Client), out var swapped)
                    ? $"its client and server are the wrong way round: it is {swapped.Describe()}"
                : "its ISN pair is on no connection on the wire");
            var like = pair is null ? ByPortsAndTime(s, wire) : null;
            phantoms.Add($"{Describe(s)}: {why}{(like is null ? "" : $" (its ports and start fit {like.Describe()}, with {matched[like].Count} session(s) matched so far)")}");
        }

        var missing = wire.Where(c => matched[c].Count == 0).Select(c => c.Describe()).ToList();
        var extra = wire.Where(c => matched[c].Count > 1)
            .Select(c => $"{c.Describe()}: {matched[c].Count} sessions: {string.Join(" | ", matched[c].Select(Describe))}").ToList();
        var flows = sessions.SelectMany(s => new[] { s.Client, s.Server }.Where(x => x is not null).Select(x => (Flow: $"{x.HostId}/{x.Cookie}", Session: s.Id)))
            .GroupBy(f => f.Flow).Where(g => g.Count() > 1).Select(g => $"{g.Key} in {string.Join(", ", g.Select(f => f.Session))}").ToList();

        var oneSided = new List<string>();
        var wrongJoin = new List<string>();
        var bytes = new List<string>();
        var resets = new List<string>();
        foreach (var (c, matches) in matched)
        {
            foreach (var s in matches)
            {
                var where = $"{c.Describe()} <- {Describe(s)}";
                if (c.HandshakeCompleted && !(s.Client is { HostId: "host-a" } && s.Server is { HostId: "host-b" } && s.Join != JoinMethod.OneSided))
                    oneSided.Add(where);
                var expectedJoin = tags ? JoinMethod.Tag : JoinMethod.Isn;
                if (s.Join != JoinMethod.OneSided && s.Join != expectedJoin)
                    wrongJoin.Add($"joined by {s.Join}, not {expectedJoin}: {where}");
                var (up, down) = (c.Client.BytesAcked, c.Server.BytesAcked);
                if (s.BytesClientToServer != up || s.BytesServerToClient != down
                    || (s.Client is not null && s.Client.BytesSent != up) || (s.Server is not null && s.Server.BytesSent != down))
                {
                    bytes.Add(string.Create(CultureInfo.InvariantCulture,
                        $"wire acked {up} up / {down} down; FlowMesh {s.BytesClientToServer} / {s.BytesServerToClient} (client sent {s.Client?.BytesSent.ToString(CultureInfo.InvariantCulture) ?? "-"}, server sent {s.Server?.BytesSent.ToString(CultureInfo.InvariantCulture) ?? "-"}): {where}"));
                }
                if (c.ExpectedReset is { } reset && s.Reset != reset)
                    resets.Add($"wire: {reset}, FlowMesh: {s.Reset}: {where}");
            }
        }

        var failures = new List<string>();
        void Check(List<string> items, string what, int of)
        {
            if (items.Count > 0)
                failures.Add($"{what}: {items.Count} of {of}:\n  {List(items)}");
        }
        if (!settled.Quiet)
            failures.Add($"FlowMesh did not settle within {SettleDeadline.TotalSeconds} s; last seen: {settled.Last}");
        Check(missing, "connections on the wire with no session", wire.Count);
        Check(extra, "connections on the wire with more than one session", wire.Count);
        Check(phantoms, "sessions that match no connection on the wire (phantoms)", sessions.Count);
        Check(flows, "flows (host/cookie) in more than one session", sessions.Count);
        var established = wire.Count(c => c.HandshakeCompleted);
        Check(oneSided, "sessions of established connections without both sides joined (client host-a, server host-b, not one-sided)", established);
        Check(wrongJoin, $"joined sessions not joined by {(tags ? "tag" : "ISN pair")}", sessions.Count(s => s.Join != JoinMethod.OneSided));
        Check(bytes, "sessions whose bytes are not what the peer acknowledged on the wire", sessions.Count);
        Check(resets, "sessions whose reset side is not the wire's first RST sender", sessions.Count);
        var (clientFlows, serverFlows) = (wire.Count, wire.Count(c => c.SynAckSeen));
        if (settled.A.FlowsClosed != clientFlows || settled.B.FlowsClosed != serverFlows)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"closed flows: host-a {settled.A.FlowsClosed}, host-b {settled.B.FlowsClosed}; the wire has {clientFlows} client sockets on host-a and {serverFlows} accepted on host-b"));
        }

        var surplus = wire.Sum(c => Math.Max(0, matched[c].Count - 1));
        var kinds = string.Join(", ", wire.GroupBy(c => ports.KindOf(c.ServerPort)).Select(g => $"{g.Key} {g.Count()}"));
        var joins = string.Join(", ", sessions.GroupBy(s => s.Join).OrderBy(g => g.Key).Select(g => $"{Name(g.Key)} {g.Count()}"));
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"wire {wire.Count} connections ({kinds}; {established} established); {sessions.Count} sessions ({joins}); "
            + $"connections with no session {missing.Count}, with more than one {extra.Count} ({surplus} sessions too many), phantoms {phantoms.Count}, flows in two sessions {flows.Count}, "
            + $"one-sided {oneSided.Count}, joined by tuple {sessions.Count(s => s.Join == JoinMethod.Tuple)}, wrong join {wrongJoin.Count}, "
            + $"byte mismatches {bytes.Count}, wrong reset side {resets.Count}; "
            + $"closed flows {settled.A.FlowsClosed}/{settled.B.FlowsClosed}, kernel drops {settled.A.KernelDrops}/{settled.B.KernelDrops}, settled {(settled.Quiet ? "yes" : "NO")}");
        return new Report(summary, failures);
    }

    private static string Name(JoinMethod join) => join switch
    {
        JoinMethod.Tag => "tag",
        JoinMethod.Isn => "isn",
        JoinMethod.Tuple => "tuple",
        JoinMethod.OneSided => "one-sided",
        _ => join.ToString(),
    };

    private static string Describe(SessionView s)
    {
        static string Side(SessionSide? x) => x is null ? "-" : string.Create(CultureInfo.InvariantCulture,
            $"{x.HostId}/{x.Cookie} {x.LocalAddress}:{x.LocalPort}>{x.RemoteAddress}:{x.RemotePort} isn {(x.IsnKnown ? $"{x.IsnLocal:x8}/{x.IsnRemote:x8}" : "unknown")} sent {x.BytesSent} received {x.BytesReceived} {x.CloseReason}{(x.MidLife ? " mid-life" : "")}{(x.EventsLost ? " events-lost" : "")}");
        return $"session {s.Id} [{Name(s.Join)}, reset {s.Reset}] client {Side(s.Client)}; server {Side(s.Server)}";
    }

    private static string List(IEnumerable<string> items)
    {
        var all = items.ToList();
        return string.Join("\n  ", all.Take(Listed)) + (all.Count > Listed ? $"\n  ... and {all.Count - Listed} more" : "");
    }
}
