using System.Diagnostics;
using System.Globalization;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Node.Kernel.Native;
using FlowMesh.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace FlowMesh.Bench;

/// <summary>
/// The Node as users run it: a real redis-server in a network namespace of the bench's
/// own, loaded by redis-benchmark (a client nobody here wrote) inside that namespace, with
/// and without a real Node <c>run</c> process capturing the namespace (flow state,
/// closed-flow records, the hand-off to a real Aggregator process), in ABBA order. For
/// each load it prints the traced/untraced ratio, the Node's CPU per kernel event (its
/// own utime+stime over the records it took), the delay from kernel event to flow state
/// (the Node's own histogram), kernel drops; then the memory per live flow, from the
/// Node's resident size with many connections held open.
/// </summary>
internal static class NodeBench
{
    private const string HostId = "bench-node";
    internal const int WorkloadPort = 6379;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    public sealed record Options(double Seconds, int Rounds, int Clients, int[] KeepAlive, int IdleConnections, string? AggregatorDll, bool Tls = false);

    public static async Task<int> RunAsync(Options options, TextWriter progress, TextWriter output)
    {
        Require("/usr/bin/redis-benchmark", "redis-benchmark (Debian's redis-tools)");
        Require(LocalRedisServer.Binary, "redis-server (Debian's redis-server)");
        var aggregatorDll = options.AggregatorDll ?? FindAggregator();
        using var pki = options.Tls ? BenchPki.Create() : null;
        Member.Environment = pki?.Environment ?? new Dictionary<string, string>();
        await using var state = await LocalRedisServer.StartAsync().ConfigureAwait(false);
        var redis = await RedisConnection.ConnectAsync(state.Endpoint, NullLogger.Instance).ConfigureAwait(false);
        await using var _ = redis;
        using var ns = BenchNamespace.Create();
        await using var workload = await Workload.StartAsync(ns).ConfigureAwait(false);
        var cluster = $"bench{Environment.ProcessId}";
        await using var aggregator = await Member.StartAsync(["dotnet", aggregatorDll, "run", "--redis", state.Endpoint, "--cluster", cluster, "--no-gateway"],
            "FlowMesh Aggregator is member").ConfigureAwait(false);
        progress.WriteLine($"bench node: namespace {ns.Name}, redis-server in it on {WorkloadPort}, state in redis-server 127.0.0.1:{state.Port}, Aggregator pid {aggregator.Pid}, cluster transport {(pki is null ? "plaintext" : "mutual TLS")}");

        string[] nodeRun = [.. NodeCommand(), "run", "--host-id", HostId, "--netns", ns.Name, "--redis", state.Endpoint, "--cluster", cluster];
        var keys = new RedisKeys(cluster);
        foreach (var keepAlive in options.KeepAlive)
        {
            // Requests per phase from a short untraced calibration, so every phase lasts about --seconds.
            var calibration = await ns.RedisBenchmarkAsync(options.Clients, keepAlive, keepAlive == 0 ? 5_000 : 20_000).ConfigureAwait(false);
            var requests = (int)Math.Max(10_000, calibration * options.Seconds);
            var untraced = new List<double>();
            var traced = new List<Phase>();
            for (var round = 0; round < options.Rounds; round++)
            {
                // ABBA: untraced, traced, traced, untraced, ... so drift favours neither.
                foreach (var tracedPhase in round % 2 == 0 ? new[] { false, true } : [true, false])
                {
                    if (!tracedPhase)
                    {
                        var rps = await ns.RedisBenchmarkAsync(options.Clients, keepAlive, requests).ConfigureAwait(false);
                        untraced.Add(rps);
                        progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  -k {keepAlive} untraced: {rps:0} req/s"));
                        continue;
                    }
                    await using var node = await Member.StartAsync(nodeRun, "FlowMesh Node").ConfigureAwait(false);
                    // A Node runs for days: warm it up first. The JIT recompiles hot code in the
                    // background (measured: a third of a core for the first seconds under load, and
                    // still a tenth of a core 10 s after start), which is start-up, not steady cost.
                    await ns.RedisBenchmarkAsync(options.Clients, keepAlive, requests / 2).ConfigureAwait(false);
                    await Task.Delay(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
                    var before = await StatusAsync(redis, keys, node, fresh: false).ConfigureAwait(false);
                    var cpuBefore = node.CpuSeconds();
                    progress.WriteLine($"  -k {keepAlive} traced phase: load starts (Node pid {node.Pid}, Aggregator pid {aggregator.Pid}, state Redis pid {state.ProcessId})");
                    var (aggregatorBefore, redisBefore) = (CpuSeconds(aggregator.Pid), CpuSeconds(state.ProcessId));
                    var clock = Stopwatch.StartNew();
                    var tracedRps = await ns.RedisBenchmarkAsync(options.Clients, keepAlive, requests).ConfigureAwait(false);
                    var loadSeconds = clock.Elapsed.TotalSeconds;
                    // Wait for a status published after the last record was applied (the Node is idle now).
                    var after = await StatusAsync(redis, keys, node, fresh: true).ConfigureAwait(false);
                    var cpu = node.CpuSeconds() - cpuBefore;
                    var (aggregatorCpu, redisCpu) = (CpuSeconds(aggregator.Pid) - aggregatorBefore, CpuSeconds(state.ProcessId) - redisBefore);
                    var phase = new Phase(tracedRps, cpu, cpu / loadSeconds, aggregatorCpu / loadSeconds, redisCpu / loadSeconds, after.Long("kernel_records") - before.Long("kernel_records"),
                        after.Long("kernel_drops") - before.Long("kernel_drops"),
                        // The Node's delay percentiles cover its last 10 s: about the measured load (not the warm-up).
                        after.Long("apply_delay_p50_us"), after.Long("apply_delay_p99_us"),
                        after.Long("session_undelivered") - before.Long("session_undelivered"), after.Long("horizon_expired") - before.Long("horizon_expired"));
                    traced.Add(phase);
                    progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  -k {keepAlive} traced:   {tracedRps:0} req/s, {phase.Records} records, Node CPU {cpu:0.00} s ({phase.Cores:0.00} cores) = {phase.CpuPerEventUs:0.00} µs/event, Aggregator {phase.AggregatorCores:0.00} cores, state Redis {phase.RedisCores:0.00} cores, event->state p50 {phase.P50Us} µs p99 {phase.P99Us} µs, drops {phase.Drops}"));
                }
            }
            var ratios = Enumerable.Range(0, untraced.Count).Select(i => traced[i].Rps / untraced[i]).Order().ToList();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"keepalive={keepAlive} clients={options.Clients} requests_per_phase={requests} untraced_rps={Median(untraced):0} traced_rps={Median(traced.Select(p => p.Rps)):0} " +
                $"ratio={Median(ratios):0.000} node_cpu_cores={Median(traced.Select(p => p.Cores)):0.000} aggregator_cores={Median(traced.Select(p => p.AggregatorCores)):0.000} state_redis_cores={Median(traced.Select(p => p.RedisCores)):0.000} cpu_per_event_us={Median(traced.Select(p => p.CpuPerEventUs)):0.00} " +
                $"event_to_state_p50_us={Median(traced.Select(p => (double)p.P50Us)):0} event_to_state_p99_us={Median(traced.Select(p => (double)p.P99Us)):0} " +
                $"drops={traced.Sum(p => p.Drops)} session_undelivered={traced.Sum(p => p.Undelivered)} horizon_expired={traced.Sum(p => p.HorizonExpired)}"));
        }

        output.WriteLine(await StoredBytesAsync(redis.Database, keys, progress).ConfigureAwait(false));
        output.WriteLine(await RequestRoundTripAsync(nodeRun, state.Endpoint, cluster, pki, progress).ConfigureAwait(false));
        if (options.IdleConnections > 0)
            output.WriteLine(await MemoryPerFlowAsync(ns, nodeRun, redis, keys, options.IdleConnections, progress).ConfigureAwait(false));
        return 0;
    }

    /// <summary>A cluster request as `cluster status` or the gateway makes it: 2,000 status requests one after another from a client to a Node, median and P99 round trip.</summary>
    private static async Task<string> RequestRoundTripAsync(string[] nodeRun, string redisEndpoint, string cluster, BenchPki? pki, TextWriter progress)
    {
        await using var node = await Member.StartAsync(nodeRun, "FlowMesh Node").ConfigureAwait(false);
        using var tls = pki?.Load();
        await using var client = await FlowMesh.Cluster.ClusterMember.StartClientAsync(
            new FlowMesh.Cluster.ClusterSettings { Redis = redisEndpoint, Name = cluster, Tls = tls }, NullLoggerFactory.Instance).ConfigureAwait(false);
        var address = client.Provider.Registrations.Values.Single(m => m.MemberId == node.MemberId);
        var pid = Proto.PID.FromAddress($"{address.Host}:{address.Port}", ClusterKinds.NodeControlActor);
        var samples = new double[2000];
        for (var i = -200; i < samples.Length; i++) // the first 200 warm the connection and the JIT
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var started = Stopwatch.GetTimestamp();
            await client.System.Root.RequestAsync<FlowMesh.Contracts.Messages.NodeStatusResponse>(pid, new FlowMesh.Contracts.Messages.NodeStatusRequest(), timeout.Token).ConfigureAwait(false);
            if (i >= 0)
                samples[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
        }
        Array.Sort(samples);
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  cluster request round trip: median {samples[samples.Length / 2]:0} µs, P99 {samples[samples.Length * 99 / 100]:0} µs"));
        return string.Create(CultureInfo.InvariantCulture,
            $"transport={(pki is null ? "plaintext" : "mtls")} request_round_trip_p50_us={samples[samples.Length / 2]:0} request_round_trip_p99_us={samples[samples.Length * 99 / 100]:0}");
    }

    /// <summary>
    /// What the phases left in the state Redis, per record: MEMORY USAGE of a sample of the
    /// sessions and closed-flow records, of an index entry, and all of used_memory over the
    /// sessions (records, indexes, latency sketches, edge counts, membership): what sizes
    /// its maxmemory for a retention.
    /// </summary>
    private static async Task<string> StoredBytesAsync(IDatabase db, RedisKeys keys, TextWriter progress)
    {
        const int Sample = 200;
        async Task<double> MeanUsage(IEnumerable<RedisKey> sample)
        {
            var sizes = await Task.WhenAll(sample.Select(k => db.ExecuteAsync("MEMORY", "USAGE", k, "SAMPLES", "0"))).ConfigureAwait(false);
            var known = sizes.Where(r => !r.IsNull).Select(r => (double)(long)r).ToList();
            return known.Count == 0 ? 0 : known.Average();
        }
        var sessions = await db.SortedSetLengthAsync(keys.SessionIndex).ConfigureAwait(false);
        var flows = await db.SortedSetLengthAsync(keys.ClosedFlowIndex).ConfigureAwait(false);
        var sessionIds = await db.SortedSetRandomMembersAsync(keys.SessionIndex, Sample).ConfigureAwait(false);
        var flowIds = await db.SortedSetRandomMembersAsync(keys.ClosedFlowIndex, Sample).ConfigureAwait(false);
        var perSession = await MeanUsage(sessionIds.Select(id => (RedisKey)keys.Session(id!))).ConfigureAwait(false);
        var flowKeys = new List<RedisKey>();
        foreach (var id in flowIds)
        {
            if (ClusterKinds.TryParseFlowIdentity(id!, out var host, out var cookie))
                flowKeys.Add(keys.ClosedFlow(host, cookie));
        }
        var perFlow = await MeanUsage(flowKeys).ConfigureAwait(false);
        var indexBytes = await MeanUsage([(RedisKey)keys.SessionIndex, (RedisKey)keys.ClosedFlowIndex]).ConfigureAwait(false) * 2;
        var info = (string?)await db.ExecuteAsync("INFO", "memory").ConfigureAwait(false) ?? "";
        var used = info.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("used_memory:", StringComparison.Ordinal))?["used_memory:".Length..];
        var usedBytes = long.TryParse(used, CultureInfo.InvariantCulture, out var u) ? u : 0;
        var perIndexEntry = sessions + flows == 0 ? 0 : indexBytes / (sessions + flows);
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  stored: {sessions} sessions of {perSession:0} B, {flows} flow records of {perFlow:0} B, {perIndexEntry:0} B per index entry; Redis uses {usedBytes >> 20} MiB"));
        return string.Create(CultureInfo.InvariantCulture,
            $"stored_sessions={sessions} bytes_per_session={perSession:0} stored_flows={flows} bytes_per_flow_record={perFlow:0} bytes_per_index_entry={perIndexEntry:0} " +
            $"redis_used_memory={usedBytes} used_memory_per_session={(sessions == 0 ? 0 : usedBytes / (double)sessions):0}");
    }

    private sealed record Phase(double Rps, double CpuSeconds, double Cores, double AggregatorCores, double RedisCores, long Records, long Drops, long P50Us, long P99Us, long Undelivered, long HorizonExpired)
    {
        public double CpuPerEventUs => Records == 0 ? 0 : CpuSeconds / Records * 1e6;
    }

    /// <summary>Resident memory the Node adds per open connection it tracks (both ends of each, held open and idle).</summary>
    private static async Task<string> MemoryPerFlowAsync(BenchNamespace ns, string[] nodeRun, RedisConnection redis, RedisKeys keys, int connections, TextWriter progress)
    {
        await using var node = await Member.StartAsync(nodeRun, "FlowMesh Node").ConfigureAwait(false);
        var before = await StatusAsync(redis, keys, node, fresh: true).ConfigureAwait(false);
        var rssBefore = node.ResidentBytes();
        using var holder = ns.HoldConnections(connections);
        var held = await holder.WaitReadyAsync().ConfigureAwait(false);
        var deadline = Stopwatch.StartNew();
        Status after;
        do
        {
            after = await StatusAsync(redis, keys, node, fresh: true).ConfigureAwait(false);
        } while (after.Long("flows_active") - before.Long("flows_active") < 2 * held && deadline.Elapsed < Deadline);
        var flows = after.Long("flows_active") - before.Long("flows_active");
        var rss = node.ResidentBytes() - rssBefore;
        progress.WriteLine($"  memory: {flows} live flows added {rss / 1048576.0:0.0} MiB resident");
        return string.Create(CultureInfo.InvariantCulture, $"live_flows={flows} resident_bytes_added={rss} bytes_per_live_flow={(flows == 0 ? 0 : rss / (double)flows):0}");
    }

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    internal sealed class Status(Dictionary<string, long> fields)
    {
        public long Long(string name) => fields.GetValueOrDefault(name);
    }

    /// <summary>The Node's published counters; <paramref name="fresh"/>: one published after this call began (so it includes everything applied before).</summary>
    internal static async Task<Status> StatusAsync(RedisConnection redis, RedisKeys keys, Member node, bool fresh)
    {
        var since = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + (fresh ? 200 : 0);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Deadline)
        {
            node.ThrowIfExited();
            var entries = await redis.Database.HashGetAllAsync(keys.NodeStatus(HostId)).ConfigureAwait(false);
            var fields = entries.ToDictionary(e => e.Name.ToString(), e => long.TryParse(e.Value.ToString(), CultureInfo.InvariantCulture, out var v) ? v : 0);
            if (fields.GetValueOrDefault("updated_unix_ms") >= since && fields.GetValueOrDefault("uptime_ms") > 0 &&
                entries.FirstOrDefault(e => e.Name == "member_id").Value == node.MemberId)
                return new Status(fields);
            await Task.Delay(100).ConfigureAwait(false);
        }
        throw new SetupFailedException("the Node did not publish its status within 30 s");
    }

    /// <summary>utime + stime of a process from /proc/PID/stat, in seconds.</summary>
    internal static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / 100.0; // USER_HZ
    }

    internal static void Require(string path, string what)
    {
        if (!File.Exists(path))
            throw new SetupFailedException($"bench node needs {what}; scripts/install-deps.sh installs it");
    }

    /// <summary>The Node as users run it: <c>dotnet FlowMesh.Node.dll</c> of the build beside this one.</summary>
    internal static string[] NodeCommand() => ["dotnet", FindBuild("Node", "FlowMesh.Node.dll")];

    internal static string FindAggregator() => FindBuild("Aggregator", "FlowMesh.Aggregator.dll");

    /// <summary>A role's build beside the bench's: bench/bin/CONFIG/net10.0 next to ROLE/bin/CONFIG/net10.0.</summary>
    private static string FindBuild(string role, string file)
    {
        var here = AppContext.BaseDirectory.TrimEnd('/');
        var framework = Path.GetFileName(here);
        var configuration = Path.GetFileName(Path.GetDirectoryName(here)!);
        var repo = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(here)!)!)!)!;
        var dll = Path.Combine(repo, role, "bin", configuration, framework, file);
        return File.Exists(dll) ? dll
            : throw new SetupFailedException($"no {role} build at {dll}: run `dotnet build -c {configuration} {role}`");
    }

    /// <summary>A cluster member process (Node or Aggregator) the bench started and stops with SIGTERM.</summary>
    internal sealed class Member : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly List<string> _log = [];

        private Member(Process process) => _process = process;

        public int Pid => _process.Id;
        public string MemberId { get; private set; } = "";

        /// <summary>Settings every member process of the bench gets (its TLS files, with --tls).</summary>
        public static IReadOnlyDictionary<string, string> Environment { get; set; } = new Dictionary<string, string>();

        public static async Task<Member> StartAsync(string[] command, string readyLine)
        {
            var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var (key, value) in Environment)
                info.Environment[key] = value;
            foreach (var a in command.Skip(1))
                info.ArgumentList.Add(a);
            var member = new Member(Process.Start(info)!);
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void OnLine(string? line)
            {
                if (line is null)
                    return;
                lock (member._log)
                    member._log.Add(line);
                if (line.Contains(readyLine, StringComparison.Ordinal))
                {
                    // "... is member {id} at {address}"
                    var words = line.Split(' ');
                    var at = Array.IndexOf(words, "member");
                    if (at >= 0 && at + 1 < words.Length)
                        member.MemberId = words[at + 1];
                    ready.TrySetResult();
                }
            }
            member._process.OutputDataReceived += (_, e) => OnLine(e.Data);
            member._process.ErrorDataReceived += (_, e) => OnLine(e.Data);
            member._process.BeginOutputReadLine();
            member._process.BeginErrorReadLine();
            var exited = member._process.WaitForExitAsync();
            if (await Task.WhenAny(ready.Task, exited, Task.Delay(Deadline)).ConfigureAwait(false) != ready.Task)
            {
                await member.DisposeAsync().ConfigureAwait(false);
                throw new SetupFailedException($"{string.Join(' ', command.Take(3))} did not start: {member.LastLines()}");
            }
            return member;
        }

        public void ThrowIfExited()
        {
            if (_process.HasExited)
                throw new SetupFailedException($"a member exited ({_process.ExitCode}): {LastLines()}");
        }

        private string LastLines()
        {
            lock (_log)
                return string.Join(" | ", _log.TakeLast(5));
        }

        public double CpuSeconds() => NodeBench.CpuSeconds(Pid);

        public long ResidentBytes()
        {
            foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
            return 0;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                // SIGTERM: a clean stop (the Node detaches and leaves the cluster).
                _ = LibC.kill(_process.Id, LibC.SIGTERM);
                await Task.WhenAny(_process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(20))).ConfigureAwait(false);
                if (!_process.HasExited)
                    _process.Kill(entireProcessTree: true);
            }
            await _process.WaitForExitAsync().ConfigureAwait(false);
            _process.Dispose();
        }
    }

    /// <summary>The workload's redis-server inside the namespace.</summary>
    internal sealed class Workload : IAsyncDisposable
    {
        private readonly Process _server;

        private Workload(Process server) => _server = server;

        public static async Task<Workload> StartAsync(BenchNamespace ns)
        {
            var server = ns.Start("redis-server", "--bind", "127.0.0.1", "--port", $"{WorkloadPort}", "--save", "", "--appendonly", "no", "--protected-mode", "no");
            var workload = new Workload(server);
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < Deadline)
            {
                using var ping = ns.Start("redis-cli", "-p", $"{WorkloadPort}", "ping");
                var answer = await ping.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
                await ping.WaitForExitAsync().ConfigureAwait(false);
                if (answer.Trim() == "PONG")
                    return workload;
                await Task.Delay(50).ConfigureAwait(false);
            }
            await workload.DisposeAsync().ConfigureAwait(false);
            throw new SetupFailedException("the workload's redis-server did not answer within 30 s");
        }

        public async ValueTask DisposeAsync()
        {
            if (!_server.HasExited)
                _ = LibC.kill(_server.Id, LibC.SIGTERM);
            await _server.WaitForExitAsync().ConfigureAwait(false);
            _server.Dispose();
        }
    }

    /// <summary>A network namespace of the bench's own (loopback only), removed at the end.</summary>
    internal sealed class BenchNamespace : IDisposable
    {
        private BenchNamespace(string name) => Name = name;

        public string Name { get; }

        public static BenchNamespace Create()
        {
            var ns = new BenchNamespace($"fm-bench-{Environment.ProcessId}");
            Run("ip", "netns", "add", ns.Name);
            Run("ip", "-n", ns.Name, "link", "set", "lo", "up");
            return ns;
        }

        public Process Start(params string[] command)
        {
            var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
            foreach (var a in (string[])["netns", "exec", Name, .. command])
                info.ArgumentList.Add(a);
            return Process.Start(info)!;
        }

        /// <summary>Runs redis-benchmark in the namespace and returns its requests per second.</summary>
        public async Task<double> RedisBenchmarkAsync(int clients, int keepAlive, int requests)
        {
            using var run = Start("redis-benchmark", "-p", $"{WorkloadPort}", "-c", $"{clients}", "-k", $"{keepAlive}", "-n", $"{requests}", "-t", "ping_inline", "--csv");
            var stdout = await run.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
            await run.WaitForExitAsync().ConfigureAwait(false);
            // --csv: a header, then "PING_INLINE","14076.33",...
            foreach (var line in stdout.Split('\n'))
            {
                var cells = line.Split(',');
                if (cells.Length > 1 && cells[0].Trim('"') == "PING_INLINE" && double.TryParse(cells[1].Trim('"'), CultureInfo.InvariantCulture, out var rps))
                    return rps;
            }
            throw new SetupFailedException($"redis-benchmark printed no result (exit {run.ExitCode}): {stdout} {await run.StandardError.ReadToEndAsync().ConfigureAwait(false)}");
        }

        /// <summary>Opens and holds <paramref name="connections"/> idle connections inside the namespace (both ends there) until disposed.</summary>
        public ConnectionHolder HoldConnections(int connections)
        {
            const string Script = """
                import resource, socket, sys
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                n = min(int(sys.argv[1]), (hard - 100) // 2)  # both ends of every connection, within the hard limit
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
                server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(4096)
                port = server.getsockname()[1]
                clients, accepted = [], []
                for _ in range(n):
                    c = socket.socket(); c.connect(("127.0.0.1", port)); clients.append(c)
                    accepted.append(server.accept()[0])
                print("ready", n, flush=True)
                sys.stdin.read()
                """;
            return new ConnectionHolder(Start("python3", "-c", Script, $"{connections}"));
        }

        public void Dispose() => Run("ip", "netns", "delete", Name);

        private static void Run(params string[] command)
        {
            var info = new ProcessStartInfo(command[0]) { RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in command.Skip(1))
                info.ArgumentList.Add(a);
            using var p = Process.Start(info)!;
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new SetupFailedException($"{string.Join(' ', command)} failed: {stderr.Trim()} (bench node needs root)");
        }
    }

    /// <summary>The process holding idle connections open; closing its stdin lets it exit.</summary>
    internal sealed class ConnectionHolder(Process process) : IDisposable
    {
        /// <summary>Waits until every connection is open; returns how many (the file limit may allow fewer than asked).</summary>
        public async Task<int> WaitReadyAsync()
        {
            var line = await process.StandardOutput.ReadLineAsync().ConfigureAwait(false);
            if (line?.Split(' ') is not ["ready", var count])
                throw new SetupFailedException($"the connection holder failed: {await process.StandardError.ReadToEndAsync().ConfigureAwait(false)}");
            return int.Parse(count, CultureInfo.InvariantCulture);
        }

        public void Dispose()
        {
            process.StandardInput.Close();
            if (!process.WaitForExit(10_000))
                process.Kill();
            process.Dispose();
        }
    }
}
