using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FlowMesh.SystemTests.Harness;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace FlowMesh.SystemTests;

/// <summary>
/// TCP health per flow (issue 16), held against what the kernel tells <c>ss -ti</c> for the
/// same socket and, for drops, against the namespace's own SNMP counters. Faults come from
/// nftables rules in the test's namespaces (this kernel has no netem). Each comparison is made
/// on the record the socket's shutdown() produces, after the connection went idle and ss was
/// read, so nothing moves between the two readings.
/// </summary>
public sealed class TcpHealthTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_lossy_transfer_reports_what_ss_shows_for_both_sockets()
    {
        await using var t = await CapturedHosts.StartAsync();
        var (hosts, port, captureA, captureB, listener) = (t.Hosts, t.Port, t.A, t.B, t.Listener);
        var (client, server) = t.Connect();
        var clientPort = Sockets.Port(client);

        // 3% of the client's data lost on its way into the server's host: fast retransmits,
        // probes and timeouts on the client, out-of-order arrivals on the server. (Drops in the
        // client's own output hook would not do: TCP sees those fail and sends them again as new.)
        hosts.B.Exec("nft", $"add table inet fm_health {{ chain in {{ type filter hook input priority 0; tcp dport {port} numgen random mod 100 < 3 counter drop; }}; }}");
        var payload = Sockets.Pattern(6_000_000, 7);
        long dropped;
        try
        {
            var receive = Task.Run(() => Sockets.ReceiveExactly(server, payload.Length));
            Sockets.SendAll(client, payload);
            Assert.Equal(payload, await receive.WaitAsync(Deadline));
            await WaitIdleAsync(hosts.A, clientPort, port);
        }
        finally
        {
            dropped = await DroppedAsync(hosts.B);
            hosts.B.Exec("nft", "delete table inet fm_health");
        }

        var ssClient = await SsSocketInfo.ReadAsync(hosts.A, clientPort, port);
        var ssServer = await SsSocketInfo.ReadAsync(hosts.B, port, clientPort);
        client.Shutdown(SocketShutdown.Send);
        var c = Sockets.Cookie(client);
        var s = Sockets.Cookie(server);
        var clientRecord = await captureA.WaitForAsync(e => e.Any(x => x.Cookie == c && x.NewState == "TCP_FIN_WAIT1"), "the client's FIN_WAIT1");
        var serverRecord = await captureB.WaitForAsync(e => e.Any(x => x.Cookie == s && x.NewState == "TCP_CLOSE_WAIT"), "the server's CLOSE_WAIT");
        var h = clientRecord.First(x => x.Cookie == c && x.NewState == "TCP_FIN_WAIT1").Health!.Value;
        var hs = serverRecord.First(x => x.Cookie == s && x.NewState == "TCP_CLOSE_WAIT").Health!.Value;
        output.WriteLine($"ss client: {ssClient.Text}\nrecord: {h}");
        output.WriteLine($"ss server: {ssServer.Text}\nrecord: {hs}");

        // The fault must have done something, or the comparisons below prove nothing.
        Assert.True(ssClient.RetransmitsTotal > 0 && ssServer.OutOfOrderPackets > 0, $"3% loss made no retransmission: {ssClient.Text}");
        AssertSameAsSs(ssClient, h);
        AssertSameAsSs(ssServer, hs);
        Assert.True(Get(h, "retransFast") + Get(h, "retransProbe") > 0, $"no fast retransmission or probe under random loss: {h}");
        Assert.Equal(0u, Get(h, "retransSyn"));
        // The rule's drops happen after the kernel found the server's socket (early demux), so they count on it.
        // A retransmission the client sent too early (ss's dsack_dups: the server said it had the
        // data already) arrives as old data, which the server's TCP drops too: at most one each.
        var drops = Get(hs, "drops");
        Assert.InRange(drops, (uint)dropped, (uint)dropped + ssClient.DsackDups);
        // The reason kept is the latest drop's.
        var reason = hs.GetProperty("dropReason").GetString();
        if (drops == dropped)
            Assert.Equal("NETFILTER_DROP", reason);
        else
            Assert.True(reason is "NETFILTER_DROP" or "TCP_OLD_DATA", $"{drops} drops, {dropped} by the rule, the latest for {reason}");
    }

    [Fact]
    public async Task Acknowledgements_lost_for_a_second_make_spurious_retransmissions_and_drops_of_old_data()
    {
        await using var t = await CapturedHosts.StartAsync();
        var (hosts, port, captureA, captureB, listener) = (t.Hosts, t.Port, t.A, t.B, t.Listener);
        var (client, server) = t.Connect();
        var clientPort = Sockets.Port(client);
        var warmUp = Sockets.Pattern(1000, 1);
        Sockets.SendAll(client, warmUp);
        Assert.Equal(warmUp, Sockets.ReceiveExactly(server, warmUp.Length));

        // Every ACK from the server lost for 1.5 s: the client's retransmission timer fires on
        // data the server already has. The server drops those copies (old data) and answers
        // with D-SACKs, which reach the client once the ACKs flow again.
        var payload = Sockets.Pattern(8_000, 2); // within the initial window: it all leaves with no ACK back
        hosts.B.Exec("nft", $"add table inet fm_health {{ chain out {{ type filter hook output priority 0; tcp sport {port} counter drop; }}; }}");
        long acksDropped;
        try
        {
            Sockets.SendAll(client, payload);
            Assert.Equal(payload, Sockets.ReceiveExactly(server, payload.Length));
            await Task.Delay(TimeSpan.FromSeconds(1.5)); // the fault's length, not a wait for a condition
        }
        finally
        {
            acksDropped = await DroppedAsync(hosts.B);
            hosts.B.Exec("nft", "delete table inet fm_health");
        }
        await WaitIdleAsync(hosts.A, clientPort, port);

        var ssClient = await SsSocketInfo.ReadAsync(hosts.A, clientPort, port);
        var oldDataDsacks = await NstatAsync(hosts.B, "TcpExtTCPDSACKOldSent");
        client.Shutdown(SocketShutdown.Send);
        var c = Sockets.Cookie(client);
        var s = Sockets.Cookie(server);
        var a = await captureA.WaitForAsync(e => e.Any(x => x.Cookie == c && x.NewState == "TCP_FIN_WAIT1"), "the client's FIN_WAIT1");
        var b = await captureB.WaitForAsync(e => e.Any(x => x.Cookie == s && x.NewState == "TCP_CLOSE_WAIT"), "the server's CLOSE_WAIT");
        var h = a.First(x => x.Cookie == c && x.NewState == "TCP_FIN_WAIT1").Health!.Value;
        var hs = b.First(x => x.Cookie == s && x.NewState == "TCP_CLOSE_WAIT").Health!.Value;
        output.WriteLine($"ss client: {ssClient.Text}\nclient record: {h}\nserver record: {hs}\nserver TcpExtTCPDSACKOldSent {oldDataDsacks}");

        Assert.True(ssClient.DsackDups > 0, $"no D-SACK reached the client: {ssClient.Text}");
        AssertSameAsSs(ssClient, h);
        Assert.True(Get(h, "retransTimeout") > 0, $"no timeout retransmission: {h}");
        // The server's drops: its own ACKs, dropped by the rule as they left (netfilter), and
        // each old copy of data it had, each answered with a D-SACK for old data.
        Assert.True(oldDataDsacks > 0, "the server's namespace counted no D-SACK for old data");
        Assert.Equal(acksDropped + oldDataDsacks, Get(hs, "drops"));
        Assert.Contains(hs.GetProperty("dropReason").GetString(), new[] { "TCP_OLD_DATA", "TCP_OLD_SEQUENCE", "TCP_INVALID_SEQUENCE" });
    }

    [Fact]
    public async Task A_lost_SYN_and_a_lost_SYN_ACK_are_counted_as_handshake_retransmissions()
    {
        await using var t = await CapturedHosts.StartAsync();
        var (hosts, port, captureA, captureB, listener) = (t.Hosts, t.Port, t.A, t.B, t.Listener);

        // The client's first SYN is lost; its retransmission (1 s later) gets through.
        using var client = hosts.ClientOnA();
        hosts.A.Exec("nft", $"add table inet fm_health {{ chain out {{ type filter hook output priority 0; tcp dport {port} tcp flags & (syn | ack) == syn counter drop; }}; }}");
        var connect = client.ConnectAsync(IPAddress.Parse(hosts.AddressB), port);
        await WaitDroppedAsync(hosts.A);
        hosts.A.Exec("nft", "delete table inet fm_health");
        await connect.WaitAsync(Deadline);
        using var server = listener.Accept();

        // The second client's first SYN-ACK is lost; the server retransmits it (and answers the client's repeated SYN).
        using var client2 = hosts.ClientOnA();
        hosts.B.Exec("nft", $"add table inet fm_health {{ chain out {{ type filter hook output priority 0; tcp sport {port} tcp flags & (syn | ack) == syn | ack counter drop; }}; }}");
        var connect2 = client2.ConnectAsync(IPAddress.Parse(hosts.AddressB), port);
        await WaitDroppedAsync(hosts.B);
        hosts.B.Exec("nft", "delete table inet fm_health");
        await connect2.WaitAsync(Deadline);
        using var server2 = listener.Accept();

        foreach (var (host, socket, capture, peerPort, what) in new[]
                 {
                     (hosts.A, client, captureA, port, "client (SYN lost)"),
                     (hosts.B, server2, captureB, Sockets.Port(client2), "server (SYN-ACK lost)"),
                 })
        {
            var ss = await SsSocketInfo.ReadAsync(host, Sockets.Port(socket), peerPort);
            socket.Shutdown(SocketShutdown.Send);
            var cookie = Sockets.Cookie(socket);
            var events = await capture.WaitForAsync(e => e.Any(x => x.Cookie == cookie && x.NewState == "TCP_FIN_WAIT1"), $"the {what}'s FIN_WAIT1");
            var h = events.First(x => x.Cookie == cookie && x.NewState == "TCP_FIN_WAIT1").Health!.Value;
            output.WriteLine($"{what}: ss {ss.Text}\nrecord: {h}");
            Assert.True(ss.RetransmitsTotal >= 1, $"{what}: ss shows no retransmission: {ss.Text}");
            Assert.Equal(ss.RetransmitsTotal, Get(h, "retransSyn"));
            AssertSameAsSs(ss, h);
        }
    }

    [Fact]
    public async Task Resets_carry_the_kernels_reason_and_refused_connects_end_with_ECONNREFUSED()
    {
        await using var t = await CapturedHosts.StartAsync(withClosedPort: true);
        var (hosts, port, captureA, captureB, listener) = (t.Hosts, t.Port, t.A, t.B, t.Listener);
        var closedPort = t.ClosedPort;

        // An abortive close (SO_LINGER 0) by the client: tcp_disconnect() sends it, with reason TCP_STATE.
        var (client, server) = t.Connect();
        var c = Sockets.Cookie(client);
        Sockets.CloseAbortively(client);
        var a = await captureA.WaitForAsync(e => e.Any(x => x.Cookie == c && x.Event == "reset-sent"), "the client's reset");
        Assert.Equal("TCP_STATE", a.First(x => x.Cookie == c && x.Event == "reset-sent").Reason);

        // A connect to a port nobody listens on: the server's kernel resets it with no socket.
        using var refused = hosts.ClientOnA();
        var error = Assert.Throws<SocketException>(() => refused.Connect(IPAddress.Parse(hosts.AddressB), closedPort));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        var r = Sockets.Cookie(refused);
        var b = await captureB.WaitForAsync(e => e.Any(x => x.Event == "reset-sent" && x.NoSocket && x.LocalPort == closedPort), "the server's reset to the closed port");
        Assert.Equal("NO_SOCKET", b.First(x => x.Event == "reset-sent" && x.NoSocket && x.LocalPort == closedPort).Reason);
        var closed = await captureA.WaitForAsync(e => e.Any(x => x.Cookie == r && x.IsFinalClose), "the refused socket's close");
        Assert.Equal("ECONNREFUSED", closed.First(x => x.Cookie == r && x.IsFinalClose).SocketError);
    }

    /// <summary>
    /// A listener with an accept queue of one that never accepts, flooded with connects: its
    /// host's Node counts the SYNs it dropped and the gateway shows them on the edge to it.
    /// The truth is the server namespace's own ListenDrops (nstat) and the listener's sk_drops
    /// as <c>ss -tlm</c> prints it.
    /// </summary>
    [Fact]
    public async Task A_flooded_listener_with_a_tiny_backlog_shows_its_drops_on_its_edge()
    {
        using var hosts = TwoHosts.Create();
        var port = Sockets.FreePort(IPAddress.Loopback);
        await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, [port], injectTag: false,
            new Dictionary<string, string> { ["FLOWMESH_NODE__LISTENERSECONDS"] = "1" });
        using var listener = hosts.ListenOnB(port, backlog: 1);

        // 20 connects at once: two fit the accept queue, the rest have their SYNs dropped
        // (and dropped again when they retransmit them) until the test gives up on them.
        var clients = Enumerable.Range(0, 20).Select(_ => hosts.ClientOnA()).ToList();
        var connects = clients.Select(c => c.ConnectAsync(IPAddress.Parse(hosts.AddressB), port)).ToList();
        await ClusterClient.WaitForAsync(() => NstatAsync(hosts.B, "TcpExtListenDrops"), d => d >= 18, "the listener to drop SYNs", SessionFleet.Deadline);
        foreach (var c in clients)
            c.Dispose();
        await Task.WhenAll(connects.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default)));

        var truth = await NstatAsync(hosts.B, "TcpExtListenDrops");
        var ss = await ToolRun.OutputAsync("ip", ["netns", "exec", hosts.B.Name, "ss", "-tlmnH", $"( sport = :{port} )"], Deadline);
        output.WriteLine($"nstat TcpExtListenDrops {truth}; ss: {ss.Trim()}");
        Assert.Contains($",d{truth})", ss, StringComparison.Ordinal); // skmem:(...,d<sk_drops>)

        using var http = new HttpClient { BaseAddress = fleet.Aggregator.GatewayUrl };
        var server = $"{hosts.AddressB}:{port}";
        var edge = await ClusterClient.WaitForAsync(
            async () => (await http.GetJsonAsync("/api/edges?limit=1000")).EnumerateArray().FirstOrDefault(e => e.GetProperty("server").GetString() == server),
            e => e.ValueKind == JsonValueKind.Object && e.GetProperty("listenDrops").GetInt64() == truth,
            $"the edge to {server} to show {truth} listen drops", SessionFleet.Deadline);
        output.WriteLine(edge.ToString());
        // The Node publishes its status each second: wait for the publication after the look.
        await WaitForStatusAsync(fleet, "listen_drops", truth);
        var overflows = await NstatAsync(hosts.B, "TcpExtListenOverflows");
        Assert.True(overflows > 0, "the namespace counted no accept-queue overflow");
        await WaitForStatusAsync(fleet, "listen_overflows", overflows);
    }

    /// <summary>
    /// A long-lived connection that moves data with no state change: the Node's periodic
    /// report pass brings its flow the kernel's current figures while it stays open (its
    /// ESTABLISHED record had a cwnd of 10 and no delivery rate).
    /// </summary>
    [Fact]
    public async Task An_open_flow_is_reported_with_the_figures_ss_shows_now()
    {
        using var hosts = TwoHosts.Create();
        var port = Sockets.FreePort(IPAddress.Loopback);
        await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, [port], injectTag: false,
            new Dictionary<string, string> { ["FLOWMESH_FLOWS__SESSIONREPORTSECONDS"] = "2", ["FLOWMESH_NODE__LISTENERSECONDS"] = "1" });
        using var listener = hosts.ListenOnB(port);
        var (client, server) = hosts.ConnectAToB(listener, port);
        using var clientSocket = client; // disposed with the test, after the fleet's last look
        using var serverSocket = server;
        var payload = Sockets.Pattern(4_000_000, 3);
        var receive = Task.Run(() => Sockets.ReceiveExactly(server, payload.Length));
        Sockets.SendAll(client, payload);
        await receive.WaitAsync(Deadline);
        await WaitIdleAsync(hosts.A, Sockets.Port(client), port);
        var ss = await SsSocketInfo.ReadAsync(hosts.A, Sockets.Port(client), port);
        Assert.True(ss.Cwnd > 10 && ss.DeliveryRateBitsPerSecond > 0, $"the transfer left no figures to report: {ss.Text}");

        var cookie = Sockets.FlowCookie(client);
        // A report taken mid-transfer may already show the final cwnd: only one taken after the
        // last byte was acknowledged has the figures ss shows now.
        var flow = (await ClusterClient.WaitForAsync(() => fleet.Client.QueryAsync("host-a", cookie),
            r => r.Found && r.Flow.BytesSent == (ulong)payload.Length && r.Flow.Health is { } h && h.Cwnd == ss.Cwnd && h.MinRttUs > 0,
            $"host-a's open flow to report all {payload.Length} bytes acknowledged and cwnd {ss.Cwnd}", SessionFleet.Deadline)).Flow;
        output.WriteLine($"ss: {ss.Text}\nflow: {flow.Health}");
        Assert.False(flow.Closed);
        Assert.InRange(flow.Health.MinRttUs / 1000.0, ss.MinRttMs - 0.001, ss.MinRttMs + 0.001);
        Assert.InRange(flow.Health.DeliveryRate * 8.0, ss.DeliveryRateBitsPerSecond * 0.95, ss.DeliveryRateBitsPerSecond * 1.05 + 1);
        Assert.Equal((ulong)payload.Length, flow.BytesSent);

        // The server stops reading: its receive window fills and it advertises zero. The
        // kernel counts that per namespace only; host-b's Node reports the namespace's count.
        client.Blocking = false;
        var chunk = new byte[65536];
        var stalled = Stopwatch.StartNew();
        while (await NstatAsync(hosts.B, "TcpExtTCPToZeroWindowAdv") == 0)
        {
            try
            {
                client.Send(chunk);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
            {
                await Task.Delay(50);
            }
            if (stalled.Elapsed > Deadline)
                throw new XunitException("the server's namespace never advertised a zero window");
        }
        // Sending stopped at the first advert; the window stays shut, so the count holds still.
        await WaitForStatusAsync(fleet, "zero_window_adverts", await NstatAsync(hosts.B, "TcpExtTCPToZeroWindowAdv"));
    }

    /// <summary>
    /// Two hosts with `capture --json` on each for the test's port (and a closed one), a listener
    /// on B, and the connections made through it: all removed on dispose.
    /// </summary>
    private sealed class CapturedHosts : IAsyncDisposable
    {
        private readonly List<Socket> _sockets = [];

        private CapturedHosts(TwoHosts hosts, int port, int closedPort) => (Hosts, Port, ClosedPort) = (hosts, port, closedPort);

        public TwoHosts Hosts { get; }
        public int Port { get; }
        public int ClosedPort { get; }
        public CaptureProcess A { get; private set; } = null!;
        public CaptureProcess B { get; private set; } = null!;
        public Socket Listener { get; private set; } = null!;

        public static async Task<CapturedHosts> StartAsync(bool withClosedPort = false)
        {
            var port = Sockets.FreePort(IPAddress.Loopback);
            var closedPort = port + 1 > 65535 ? port - 1 : port + 1;
            var t = new CapturedHosts(TwoHosts.Create(), port, closedPort);
            try
            {
                string[] filter = withClosedPort ? ["--port", $"{port}", "--port", $"{closedPort}"] : ["--port", $"{port}"];
                t.A = await CaptureProcess.StartAsync(["--netns", t.Hosts.A.Name, .. filter]);
                t.B = await CaptureProcess.StartAsync(["--netns", t.Hosts.B.Name, .. filter]);
                t.Listener = t.Hosts.ListenOnB(port);
                return t;
            }
            catch
            {
                await t.DisposeAsync();
                throw;
            }
        }

        /// <summary>A client on A connected to the listener, and the server's accepted socket.</summary>
        public (Socket Client, Socket Server) Connect()
        {
            var (client, server) = Hosts.ConnectAToB(Listener, Port);
            _sockets.Add(client);
            _sockets.Add(server);
            return (client, server);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var s in _sockets)
                s.Dispose();
            Listener?.Dispose();
            if (B is not null)
                await B.DisposeAsync();
            if (A is not null)
                await A.DisposeAsync();
            Hosts.Dispose();
        }
    }

    /// <summary>Every health field ss also shows, equal (rates and RTTs to ss's printed precision).</summary>
    private static void AssertSameAsSs(SsSocketInfo ss, JsonElement h)
    {
        Assert.Equal(ss.BytesRetransmitted, h.GetProperty("bytesRetrans").GetUInt64());
        Assert.Equal(ss.RetransmitsTotal, Get(h, "retransTimeout") + Get(h, "retransFast") + Get(h, "retransProbe") + Get(h, "retransSyn"));
        Assert.Equal(ss.DsackDups, Get(h, "dsackDups"));
        Assert.Equal(ss.ReorderingSeen, Get(h, "reordSeen"));
        Assert.Equal(ss.OutOfOrderPackets, Get(h, "rcvOooPack"));
        Assert.Equal(ss.Cwnd, Get(h, "cwnd"));
        // ss prints milliseconds with %g: six significant digits, so within a microsecond here.
        Assert.InRange(Get(h, "minRttUs") / 1000.0, ss.MinRttMs - 0.001, ss.MinRttMs + 0.001);
        Assert.InRange(Get(h, "rttVarUs") / 1000.0, ss.RttVarMs - 0.001, ss.RttVarMs + 0.001);
        // ss prints the rate with one decimal after a unit prefix ("1.2Gbps"): within 5%.
        var rate = h.GetProperty("deliveryRate").GetUInt64() * 8.0;
        Assert.InRange(rate, ss.DeliveryRateBitsPerSecond * 0.95, ss.DeliveryRateBitsPerSecond * 1.05 + 1);
    }

    private static uint Get(JsonElement h, string field) => h.GetProperty(field).GetUInt32();

    /// <summary>Until nothing is unacknowledged and ss's figures hold still between two readings.</summary>
    private static async Task WaitIdleAsync(TestNamespace host, int localPort, int remotePort)
    {
        var elapsed = Stopwatch.StartNew();
        SsSocketInfo? last = null;
        while (true)
        {
            var now = await SsSocketInfo.ReadAsync(host, localPort, remotePort);
            var idle = !now.Text.Contains("unacked:", StringComparison.Ordinal) && !now.Text.Contains("timer:(on", StringComparison.Ordinal);
            if (idle && last is not null && now with { Text = "", RttMs = 0, DeliveryRateBitsPerSecond = 0 } == last with { Text = "", RttMs = 0, DeliveryRateBitsPerSecond = 0 })
                return;
            if (elapsed.Elapsed > Deadline)
                throw new XunitException($"the connection did not go idle within {Deadline.TotalSeconds} s: {now.Text}");
            last = idle ? now : null;
            await Task.Delay(200);
        }
    }

    /// <summary>Until host-b's published status shows <paramref name="expected"/> for one figure.</summary>
    private static Task<long> WaitForStatusAsync(SessionFleet fleet, string figure, long expected) =>
        ClusterClient.WaitForAsync(async () => (long)await fleet.Client.Member.Redis.Database.HashGetAsync(fleet.Keys.NodeStatus("host-b"), figure),
            n => n == expected, $"host-b's Node to count {expected} {figure}", SessionFleet.Deadline);

    /// <summary>Until the test's nftables rule (with a counter) has dropped a packet.</summary>
    private static async Task WaitDroppedAsync(TestNamespace host)
    {
        var elapsed = Stopwatch.StartNew();
        while (await DroppedAsync(host) == 0)
        {
            if (elapsed.Elapsed > Deadline)
                throw new XunitException($"the rule dropped nothing within {Deadline.TotalSeconds} s");
            await Task.Delay(20);
        }
    }

    /// <summary>The packets the test's nftables rule has dropped, from its counter.</summary>
    private static async Task<long> DroppedAsync(TestNamespace host)
    {
        var table = await ToolRun.OutputAsync("ip", ["netns", "exec", host.Name, "nft", "list", "table", "inet", "fm_health"], TimeSpan.FromSeconds(10));
        var m = System.Text.RegularExpressions.Regex.Match(table, @"counter packets (\d+)");
        return m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : throw new XunitException($"no counter in the test's rule: {table}");
    }

    /// <summary>One SNMP counter of the namespace (its own, since the test made it).</summary>
    private static async Task<long> NstatAsync(TestNamespace host, string counter)
    {
        var text = await ToolRun.OutputAsync("ip", ["netns", "exec", host.Name, "nstat", "-asz", counter], TimeSpan.FromSeconds(10));
        foreach (var line in text.Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && parts[0] == counter)
                return long.Parse(parts[1], CultureInfo.InvariantCulture);
        }
        throw new XunitException($"nstat printed no {counter}: {text}");
    }
}
