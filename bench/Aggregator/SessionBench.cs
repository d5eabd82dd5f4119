using System.Diagnostics;
using System.Globalization;
using FlowMesh.Cluster;
using FlowMesh.Cluster.Sessions;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Proto.Cluster;

namespace FlowMesh.Bench;

/// <summary>
/// One Aggregator, measured as the Nodes use it: a real Aggregator process (<c>run</c>),
/// a private redis-server, and this process in the cluster sending closed client and
/// server flows through the Nodes' own <see cref="SessionRouter"/>.
/// <list type="number">
/// <item>Latency: at a steady rate, sampled sessions are asked for through the cluster
/// (as <c>session get</c> does) from the moment both sides are handed over until the
/// joined, closed session comes back: P50 and P99.</item>
/// <item>Throughput: a burst of sessions sent as fast as the router takes them; sessions
/// per second from the first handed over until the last one is queryable.</item>
/// </list>
/// The flows are synthetic (the kernel's part is measured by the Node's benches); all
/// three processes share this machine's cores.
/// </summary>
internal static class SessionBench
{
    private static readonly TimeSpan ProbeDeadline = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(int rate, TimeSpan latencyPhase, int probesPerSecond, int burst, TextWriter progress, TextWriter results)
    {
        await using var redis = await LocalRedisServer.StartAsync().ConfigureAwait(false);
        var settings = new ClusterSettings { Redis = redis.Endpoint, Name = $"bench{Random.Shared.Next(1 << 24):x}", MemberTtl = TimeSpan.FromSeconds(4) };
        using var aggregator = AggregatorProcess.Start(redis.Endpoint, settings.Name, "--no-gateway");
        await using var member = await ClusterMember.StartClientAsync(settings, NullLoggerFactory.Instance).ConfigureAwait(false);
        await WaitForAggregatorAsync(member, aggregator).ConfigureAwait(false);
        await using var router = new SessionRouter(member, NullLogger.Instance);
        var sessions = new SyntheticSessions();
        progress.WriteLine($"bench: Aggregator pid {aggregator.Pid} joined; latency at {rate} sessions/s for {latencyPhase.TotalSeconds} s, {probesPerSecond} probes/s");

        // Warm-up (JIT, connections, caches), not measured.
        await MeasureLatencyAsync(member, router, sessions, rate, TimeSpan.FromSeconds(3), probesPerSecond, TextWriter.Null).ConfigureAwait(false);
        var latencies = await MeasureLatencyAsync(member, router, sessions, rate, latencyPhase, probesPerSecond, progress).ConfigureAwait(false);
        var cpuBefore = aggregator.CpuTime;
        progress.WriteLine($"bench: burst of {burst} sessions");
        var (perSecond, elapsed) = await MeasureThroughputAsync(member, router, sessions, burst, progress).ConfigureAwait(false);
        var cores = (aggregator.CpuTime - cpuBefore).TotalSeconds / elapsed.TotalSeconds;

        var status = await AggregatorStatusAsync(member, settings.Name).ConfigureAwait(false);
        progress.WriteLine($"bench: Aggregator status: {status}");
        var sorted = latencies.Latencies.Order().ToArray();
        results.WriteLine($"latency phase: {latencies.Sent} sessions at {rate}/s, {sorted.Length} probed, {latencies.TimedOut} not queryable within {ProbeDeadline.TotalSeconds} s");
        results.WriteLine($"  both sides handed over -> session queryable: p50 {Percentile(sorted, 0.50):F1} ms, p90 {Percentile(sorted, 0.90):F1} ms, p99 {Percentile(sorted, 0.99):F1} ms, max {sorted.LastOrDefault():F1} ms");
        results.WriteLine($"throughput: {burst} sessions joined in {elapsed.TotalSeconds:F2} s = {perSecond:F0} sessions/s ({cores:F2} Aggregator cores); undelivered {router.Undelivered}");
        results.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"p50_ms={Percentile(sorted, 0.50):F1} p99_ms={Percentile(sorted, 0.99):F1} probes={sorted.Length} timed_out={latencies.TimedOut} sessions_per_s={perSecond:F0} aggregator_cores={cores:F2} undelivered={router.Undelivered}"));
        return latencies.TimedOut == 0 && router.Undelivered == 0 ? 0 : 1;
    }

    private sealed record LatencyResult(long Sent, List<double> Latencies, int TimedOut);

    private static async Task<LatencyResult> MeasureLatencyAsync(ClusterMember member, SessionRouter router, SyntheticSessions sessions,
        int rate, TimeSpan phase, int probesPerSecond, TextWriter progress)
    {
        var probeEvery = Math.Max(1, rate / Math.Max(1, probesPerSecond));
        var probes = new List<Task<double?>>();
        var clock = Stopwatch.StartNew();
        long sent = 0;
        var lastReport = TimeSpan.Zero;
        while (clock.Elapsed < phase)
        {
            var due = (long)(clock.Elapsed.TotalSeconds * rate);
            for (; sent < due; sent++)
            {
                var (client, server) = sessions.Next();
                router.Deliver(client);
                router.Deliver(server);
                if (sent % probeEvery == 0)
                    probes.Add(ProbeAsync(member, SessionKeys.For(client), Stopwatch.GetTimestamp()));
            }
            if (clock.Elapsed - lastReport >= TimeSpan.FromSeconds(2))
            {
                lastReport = clock.Elapsed;
                progress.WriteLine($"bench: {clock.Elapsed.TotalSeconds:F0} s, {sent} sessions sent, {router.Delivered} flows delivered");
            }
            await Task.Delay(1).ConfigureAwait(false);
        }
        var outcomes = await Task.WhenAll(probes).ConfigureAwait(false);
        return new LatencyResult(sent, [.. outcomes.Where(o => o is not null).Select(o => o!.Value)], outcomes.Count(o => o is null));
    }

    private static async Task<(double PerSecond, TimeSpan Elapsed)> MeasureThroughputAsync(ClusterMember member, SessionRouter router,
        SyntheticSessions sessions, int burst, TextWriter progress)
    {
        var clock = Stopwatch.StartNew();
        string lastKey = "";
        for (var i = 0; i < burst; i++)
        {
            // The router's queue is bounded (a Node counts what does not fit): stay under it.
            while (router.Queued > 50_000)
                await Task.Delay(1).ConfigureAwait(false);
            var (client, server) = sessions.Next();
            router.Deliver(client);
            router.Deliver(server);
            lastKey = SessionKeys.For(client);
        }
        progress.WriteLine($"bench: burst handed over in {clock.Elapsed.TotalSeconds:F2} s; waiting for the last session");
        // Sessions of one Aggregator settle in the order their flows arrive: the last one queryable means all are.
        if (await ProbeAsync(member, lastKey, Stopwatch.GetTimestamp(), TimeSpan.FromMinutes(2)).ConfigureAwait(false) is null)
            throw new InvalidOperationException("the burst's last session never became queryable");
        var elapsed = clock.Elapsed;
        return (burst / elapsed.TotalSeconds, elapsed);
    }

    /// <summary>Asks for the session until it is joined and closed; milliseconds from <paramref name="since"/>, or null past the deadline.</summary>
    private static async Task<double?> ProbeAsync(ClusterMember member, string key, long since, TimeSpan? deadline = null)
    {
        var limit = deadline ?? ProbeDeadline;
        while (Stopwatch.GetElapsedTime(since) < limit)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                var response = await member.Cluster.RequestAsync<SessionQueryResponse>(key, ClusterKinds.Session, new SessionQuery(), timeout.Token).ConfigureAwait(false);
                if (response is { Found: true, Session: { Closed: true, Join: JoinMethod.Tag } })
                    return Stopwatch.GetElapsedTime(since).TotalMilliseconds;
            }
            catch (OperationCanceledException)
            {
                // asked again below
            }
            await Task.Delay(1).ConfigureAwait(false);
        }
        return null;
    }

    private static async Task WaitForAggregatorAsync(ClusterMember member, AggregatorProcess aggregator)
    {
        var clock = Stopwatch.StartNew();
        while (member.Cluster.MemberList.GetMembersByKind(ClusterKinds.Session).Length == 0)
        {
            if (aggregator.HasExited || clock.Elapsed > TimeSpan.FromSeconds(30))
                throw new SetupFailedException($"the Aggregator did not join: {aggregator.LastLines}");
            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    /// <summary>The Aggregator's own counters (its status hash, published every second), once they stop moving.</summary>
    private static async Task<string> AggregatorStatusAsync(ClusterMember member, string cluster)
    {
        var keys = new RedisKeys(cluster);
        var aggregatorId = member.Cluster.MemberList.GetMembersByKind(ClusterKinds.Session)[0].Id;
        string last = "", current = "";
        for (var i = 0; i < 10 && (current.Length == 0 || current != last); i++)
        {
            await Task.Delay(1100).ConfigureAwait(false);
            last = current;
            var fields = await member.Redis.Database.HashGetAllAsync(keys.AggregatorStatus(aggregatorId)).ConfigureAwait(false);
            current = string.Join(" ", fields.Where(f => f.Name != "updated_unix_ms").Select(f => $"{f.Name}={f.Value}"));
        }
        return current;
    }

    /// <summary>The nearest-rank percentile of sorted samples (both benches report it this way).</summary>
    internal static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>Client and server views of distinct tagged connections, closed, as two Nodes would report them.</summary>
internal sealed class SyntheticSessions
{
    private readonly ulong _tagBase = (ulong)Random.Shared.NextInt64() << 20;
    private readonly long _offsetNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 - Stopwatch.GetTimestamp();
    private ulong _next;

    public (FlowView Client, FlowView Server) Next()
    {
        var i = ++_next;
        var tag = _tagBase + i;
        var now = (ulong)Stopwatch.GetTimestamp();
        var port = 1024 + (uint)(i % 60000);
        var client = new FlowView
        {
            HostId = "bench-client", Cookie = i, Role = FlowRole.Client, State = "TCP_CLOSE", Closed = true, CloseReason = CloseReason.Normal,
            LocalAddress = "10.1.0.1", LocalPort = port, RemoteAddress = "10.2.0.1", RemotePort = 80, Family = "ipv4",
            TraceTag = tag, TagSent = true, TagEchoed = true, IsnKnown = true, IsnLocal = (uint)i, IsnRemote = (uint)~i,
            WallClockOffsetNs = _offsetNs, SynNs = now - 2_000_000, EstablishedNs = now - 1_900_000, ClosedNs = now, LastEventNs = now,
            HandshakeUs = 100, SrttUs = 50, BytesSent = 500, BytesReceived = 1500, Pid = 1000, Comm = "client",
        };
        var server = new FlowView
        {
            HostId = "bench-server", Cookie = i, Role = FlowRole.Server, State = "TCP_CLOSE", Closed = true, CloseReason = CloseReason.Normal,
            LocalAddress = "10.2.0.1", LocalPort = 80, RemoteAddress = "10.1.0.1", RemotePort = port, Family = "ipv4",
            TraceTag = tag, TagReceived = true, IsnKnown = true, IsnLocal = (uint)~i, IsnRemote = (uint)i,
            WallClockOffsetNs = _offsetNs, SynNs = now - 1_950_000, EstablishedNs = now - 1_900_000, ClosedNs = now, LastEventNs = now,
            HandshakeUs = 50, SrttUs = 50, BytesSent = 1500, BytesReceived = 500, Pid = 2000, Comm = "server",
        };
        return (client, server);
    }
}

/// <summary>The Aggregator under test: this same program's <c>run</c>, in its own process.</summary>
internal sealed class AggregatorProcess : IDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _lines = new();

    private AggregatorProcess(Process process) => _process = process;

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public TimeSpan CpuTime => _process.TotalProcessorTime;

    public string LastLines
    {
        get
        {
            lock (_lines)
                return string.Join(" | ", _lines);
        }
    }

    public static AggregatorProcess Start(string redis, string cluster, params string[] flags)
    {
        // The Aggregator as users run it: `dotnet FlowMesh.Aggregator.dll run` of the build beside this one.
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { NodeBench.FindAggregator(), "run", "--redis", redis, "--cluster", cluster, "--member-ttl", "4" }.Concat(flags))
            info.ArgumentList.Add(a);
        var process = new AggregatorProcess(Process.Start(info)!);
        process._process.OutputDataReceived += (_, e) => process.Keep(e.Data);
        process._process.ErrorDataReceived += (_, e) => process.Keep(e.Data);
        process._process.BeginOutputReadLine();
        process._process.BeginErrorReadLine();
        return process;
    }

    private void Keep(string? line)
    {
        if (line is null)
            return;
        lock (_lines)
        {
            _lines.Enqueue(line);
            if (_lines.Count > 20)
                _lines.Dequeue();
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        _process.Dispose();
    }
}
