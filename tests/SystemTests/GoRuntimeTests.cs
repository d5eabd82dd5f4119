using System.Globalization;
using System.Text.Json;
using FlowMesh.Contracts.Messages;
using FlowMesh.SystemTests.Harness;

namespace FlowMesh.SystemTests;

/// <summary>
/// Runtime correlation for a Go server (built by the test from workloads/goserver): a client
/// on host-a, the server on host-b, real Nodes (host-b with the Go probe on), a real
/// Aggregator. The truths are the programs' own reports (the goroutine that ran the accept
/// loop, the one that dialled each connection), the test's own CPU hog and accept delay,
/// and the kernel's per-thread schedstat counters.
/// </summary>
public sealed class GoRuntimeTests
{
    private const int Port = 8093;
    private static readonly TimeSpan Deadline = SessionFleet.Deadline;

    [Fact]
    public async Task A_Go_servers_sessions_carry_goroutine_ids_and_its_delays_rise_under_a_CPU_hog_and_an_accept_delay()
    {
        var binary = await GoWorkload.BuildAsync();
        using var hosts = TwoHosts.Create();
        var goProbe = new Dictionary<string, string> { ["FLOWMESH_NODE__RUNTIME__GO"] = "true" };
        using var receiver = OtlpReceiver.Start();
        await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, [Port], injectTag: true, goProbe, aggregators: 1,
            ["--otlp-endpoint", receiver.BaseUrl]);
        var db = fleet.Client.Member.Redis.Database;

        // -spin: each request works about 1 ms on the CPU, as a busy server does, and with one P
        // (GOMAXPROCS=1) concurrent requests queue for it: a CPU hog then makes threads and goroutines wait.
        var server = await StartServerAsync(hosts, binary, "-spin");
        try
        {
            var (acceptGoroutine, serverPid) = ReadListening(server);
            // The Node recognises the binary from the first connection it traces (listen() has no tracepoint).
            await NamespaceProgram.RunAsync(hosts.A, "goserver -client on host-a", Deadline, binary, "-client", $"{hosts.AddressB}:{Port}", "-n", "2");
            ProcessRuntimeView? process;
            try
            {
                process = await ClusterClient.WaitForAsync(() => ProcessAsync(db, fleet, "host-b", serverPid),
                    p => p is { Runtime: "go", GoScheduleTraced: true }, "host-b's Node to recognise goserver as Go and probe it", Deadline);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // What the Node said about the process (a probe it could not attach, a binary it could not read) is the reason.
                throw new Xunit.Sdk.XunitException(e.Message + "; host-b's Node log ends:\n" + string.Join("\n", fleet.B.Log.TakeLast(15)));
            }
            Assert.StartsWith("go1.", process!.GoVersion, StringComparison.Ordinal);

            // Quiet: goroutine ids on both sides; short run-queue and scheduling delays.
            var quietDelay = RunDelayNs(serverPid);
            var quiet = await PhaseAsync(fleet, hosts, binary, connections: 60);
            quietDelay = RunDelayNs(serverPid) - quietDelay;
            foreach (var (session, dialer) in quiet)
            {
                Assert.Equal(acceptGoroutine, session.Server.Runtime?.GoroutineId ?? 0);
                Assert.Equal("go", session.Server.Runtime!.Runtime);
                // The client process is new: its first connections may come before its Node read its binary.
                if (session.Client.Runtime is { GoroutineId: > 0 } client)
                    Assert.Equal(dialer, client.GoroutineId);
            }
            // The server span of a session's trace carries the same figures as attributes.
            var traced = quiet[0].Session;
            var traceId = new byte[16];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(traceId, traced.TraceTag);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(traceId.AsSpan(8), traced.TraceTag);
            const int ServerSpan = 2;
            var span = await ClusterClient.WaitForAsync(
                () => Task.FromResult(receiver.Spans.FirstOrDefault(x => x.Kind == ServerSpan && x.TraceId.Span.SequenceEqual(traceId))),
                x => x is not null, "the server span of a goserver session", Deadline);
            Assert.Equal(acceptGoroutine.ToString(CultureInfo.InvariantCulture), Attribute(span!, "flowmesh.go.goroutine"));
            Assert.Equal("go", Attribute(span!, "process.runtime.name"));
            Assert.Equal(traced.Server.Runtime.AcceptWaitUs / 1000.0, double.Parse(Attribute(span!, "flowmesh.accept_wait_ms")!, CultureInfo.InvariantCulture));

            // The client is a new process: its Node reads its binary while it dials, so its first
            // connections may go unnamed (more of them on a busy machine). Every one after the
            // first it names must be named.
            var dialled = quiet.OrderBy(s => s.Session.Client.StartUnixNs).ToList();
            var first = dialled.FindIndex(s => s.Session.Client.Runtime is { GoroutineId: > 0 });
            var carried = quiet.Count(s => s.Session.Client.Runtime is { GoroutineId: > 0 });
            Console.WriteLine($"Go client: {carried} of {quiet.Count} client sides carry the dialling goroutine, all from the {first + 1}th on");
            Assert.True(first >= 0, "no client side carries the dialling goroutine");
            Assert.True(carried == quiet.Count - first, $"{quiet.Count - first - carried} client sides after the first named one ({first + 1}th of {quiet.Count}) carry no goroutine");

            // A CPU hog in host-b's namespace: eight spinning processes on the server's CPU (both
            // pinned to CPU 0, so the contention is the hog's and not whatever else the machine runs),
            // and inside the server a goroutine that never blocks (SIGUSR1; goserver's one P is then
            // taken from the handlers until the Go scheduler preempts it). The hog alone need not
            // delay goroutines: while the OS keeps goserver's only thread off the CPU nothing readies
            // them either, and they measured no slower in about a third of the runs.
            var hogs = new List<NamespaceProgram>();
            for (var i = 0; i < 8; i++)
                hogs.Add(NamespaceProgram.Start(hosts.B, "a CPU hog on host-b", "taskset", "-c", "0", "sh", "-c", "while :; do :; done"));
            using var serverProcess = System.Diagnostics.Process.GetProcessById((int)serverPid);
            ProcessControl.Signal(serverProcess, ProcessControl.SigUsr1);
            List<(SessionView Session, ulong Dialer)> busy;
            long busyDelay;
            try
            {
                busyDelay = RunDelayNs(serverPid);
                busy = await PhaseAsync(fleet, hosts, binary, connections: 60);
                busyDelay = RunDelayNs(serverPid) - busyDelay;
            }
            finally
            {
                ProcessControl.Signal(serverProcess, ProcessControl.SigUsr2);
                foreach (var hog in hogs)
                    await hog.DisposeAsync();
            }
            // Means over the sessions: a session of a few milliseconds often sees no wait at all when the host is quiet.
            var (quietRq, busyRq) = (Mean(quiet, s => s.RunQueueP99Us), Mean(busy, s => s.RunQueueP99Us));
            var (quietGo, busyGo) = (Mean(quiet, s => s.GoScheduleP99Us), Mean(busy, s => s.GoScheduleP99Us));
            var figures = $"mean of the sessions' run-queue P99 {quietRq:F0} -> {busyRq:F0} us, goroutine scheduling P99 {quietGo:F0} -> {busyGo:F0} us, "
                + $"kernel schedstat run_delay of goserver's threads {quietDelay / 1000} -> {busyDelay / 1000} us";
            Console.WriteLine("Go server under a CPU hog: " + figures);
            // The kernel's own count says the hog made goserver's threads wait: the figures must say so too.
            Assert.True(busyDelay > 2 * quietDelay, "the hog did not delay goserver's threads (schedstat): " + figures);
            Assert.True(busyRq > 2 * quietRq && busyRq > 1000, "run-queue P99 did not rise with the hog: " + figures);
            Assert.True(busyGo > 2 * quietGo, "goroutine scheduling P99 did not rise with the hog: " + figures);

            // The same server sleeping 50 ms before each accept(): connections wait in the accept queue.
            var quietAccept = Median(quiet, s => s.AcceptWaitUs);
            await server.DisposeAsync();
            server = await StartServerAsync(hosts, binary, "-accept-delay", "50ms");
            var delayed = await PhaseAsync(fleet, hosts, binary, connections: 20);
            var delayedAccept = Median(delayed, s => s.AcceptWaitUs);
            Console.WriteLine($"Go server with a 50 ms accept delay: accept-queue wait median {quietAccept:F0} -> {delayedAccept:F0} us");
            Assert.True(quietAccept < 10_000, $"accept-queue wait {quietAccept} us with no delay");
            Assert.True(delayedAccept > 25_000, $"accept-queue wait {delayedAccept} us when the server sleeps 50 ms before each accept()");
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static string? Attribute(Otlp.Span span, string key) =>
        span.Attributes.FirstOrDefault(a => a.Key == key)?.Value is { } v ? v.ValueCase switch
        {
            Otlp.AnyValue.ValueOneofCase.StringValue => v.StringValue,
            Otlp.AnyValue.ValueOneofCase.IntValue => v.IntValue.ToString(CultureInfo.InvariantCulture),
            Otlp.AnyValue.ValueOneofCase.DoubleValue => v.DoubleValue.ToString(CultureInfo.InvariantCulture),
            _ => v.ToString(),
        } : null;

    private static async Task<NamespaceProgram> StartServerAsync(TwoHosts hosts, string binary, params string[] more)
    {
        var server = NamespaceProgram.Start(hosts.B, "goserver on host-b", ["taskset", "-c", "0", "env", "GOMAXPROCS=1", binary, "-listen", $"{hosts.AddressB}:{Port}", .. more]);
        await server.WaitForLineAsync(l => l.Contains("\"listening\"", StringComparison.Ordinal), "goserver to listen", Deadline);
        return server;
    }

    private static (ulong AcceptGoroutine, uint Pid) ReadListening(NamespaceProgram server)
    {
        var line = server.Stdout.First(l => l.Contains("\"listening\"", StringComparison.Ordinal));
        var json = JsonDocument.Parse(line).RootElement;
        return (json.GetProperty("acceptGoroutine").GetUInt64(), json.GetProperty("pid").GetUInt32());
    }

    /// <summary>
    /// Runs the Go client on host-a (one new connection per request) and returns each
    /// connection's stored session with the goroutine the client says dialled it.
    /// </summary>
    private static async Task<List<(SessionView Session, ulong Dialer)>> PhaseAsync(SessionFleet fleet, TwoHosts hosts, string binary, int connections)
    {
        // Four clients at once: more goroutines than the server has Ps, so they queue for one.
        const int Clients = 4;
        var runs = await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => NamespaceProgram.RunAsync(hosts.A, "goserver -client on host-a", Deadline,
            binary, "-client", $"{hosts.AddressB}:{Port}", "-n", (connections / Clients).ToString(CultureInfo.InvariantCulture), "-interval", "20ms")));
        var dialers = new Dictionary<uint, ulong>();
        foreach (var line in runs.SelectMany(r => r).Where(l => l.Contains("\"connected\"", StringComparison.Ordinal)))
        {
            var json = JsonDocument.Parse(line).RootElement;
            dialers[json.GetProperty("localPort").GetUInt32()] = json.GetProperty("goroutine").GetUInt64();
        }
        connections = connections / Clients * Clients;
        Assert.Equal(connections, dialers.Count);
        var sessions = await ClusterClient.WaitForAsync(async () => (await fleet.StoredSessionsAsync())
                .Where(s => s is { Closed: true, Client: not null, Server: not null } && s.Client.HostId == "host-a" && dialers.ContainsKey(s.Client.LocalPort))
                .GroupBy(s => s.Client.LocalPort).Select(g => g.MaxBy(s => s.EndUnixMs)!).ToList(),
            s => s.Count == connections, $"{connections} joined sessions of goserver's connections", Deadline);
        return [.. sessions.Select(s => (s, dialers[s.Client.LocalPort]))];
    }

    private static double Mean(List<(SessionView Session, ulong Dialer)> phase, Func<FlowRuntime, double> figure) =>
        phase.Average(s => figure(s.Session.Server.Runtime ?? new FlowRuntime()));

    private static double Median(List<(SessionView Session, ulong Dialer)> phase, Func<FlowRuntime, double> figure)
    {
        var values = phase.Select(s => figure(s.Session.Server.Runtime ?? new FlowRuntime())).Order().ToList();
        return values[values.Count / 2];
    }

    /// <summary>The kernel's own total of the time goserver's threads spent runnable and waiting (the second field of each thread's schedstat).</summary>
    private static long RunDelayNs(uint pid)
    {
        long total = 0;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                total += long.Parse(File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[1], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // a thread that just exited
            }
        }
        return total;
    }

    private static async Task<ProcessRuntimeView?> ProcessAsync(StackExchange.Redis.IDatabase db, SessionFleet fleet, string host, uint pid)
    {
        var value = await db.HashGetAsync(fleet.Keys.RuntimeProcesses(host), pid);
        return value.IsNull ? null : ProcessRuntimeView.Parser.ParseFrom((byte[])value!);
    }
}
