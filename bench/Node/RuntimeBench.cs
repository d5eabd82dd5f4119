using System.Diagnostics;
using System.Globalization;
using FlowMesh.Cluster.Redis;
using FlowMesh.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlowMesh.Bench;

/// <summary>
/// What the runtime measurements cost the workload, with a real Node `run` capturing a
/// namespace of the bench's own in every phase: (1) redis-benchmark -k 0 and -k 1 against a
/// redis-server with the run-queue tracing and accept() reporting off, then on; (2) the Go
/// workload (workloads/goserver, four clients making a connection per request) with the Go
/// probe (runtime.casgstatus uprobe) off, then on. ABBA order; the ratio is on/off.
/// </summary>
internal static class RuntimeBench
{
    private const int GoPort = 8090;
    private const int GoClients = 4;

    public sealed record Options(double Seconds, int Rounds, string? GoServer);

    private static readonly Dictionary<string, string> RuntimeOff = new()
    {
        ["FLOWMESH_NODE__RUNTIME__RUNQUEUE"] = "false",
        ["FLOWMESH_NODE__RUNTIME__ACCEPT"] = "false",
        ["FLOWMESH_NODE__RUNTIME__GO"] = "false",
    };

    private static readonly Dictionary<string, string> RuntimeDefault = new() { ["FLOWMESH_NODE__RUNTIME__GO"] = "false" };

    private static readonly Dictionary<string, string> GoProbeOn = new() { ["FLOWMESH_NODE__RUNTIME__GO"] = "true" };

    public static async Task<int> RunAsync(Options options, TextWriter progress, TextWriter output)
    {
        NodeBench.Require("/usr/bin/redis-benchmark", "redis-benchmark (Debian's redis-tools)");
        NodeBench.Require(LocalRedisServer.Binary, "redis-server (Debian's redis-server)");
        var goServer = options.GoServer ?? await BuildGoServerAsync(progress).ConfigureAwait(false);
        await using var state = await LocalRedisServer.StartAsync().ConfigureAwait(false);
        var redis = await RedisConnection.ConnectAsync(state.Endpoint, NullLogger.Instance).ConfigureAwait(false);
        await using var _ = redis;
        using var ns = NodeBench.BenchNamespace.Create();
        var cluster = $"benchrt{Environment.ProcessId}";
        await using var aggregator = await NodeBench.Member.StartAsync(["dotnet", NodeBench.FindAggregator(), "run", "--redis", state.Endpoint, "--cluster", cluster, "--no-gateway"],
            "FlowMesh Aggregator is member").ConfigureAwait(false);
        string[] nodeRun = [.. NodeBench.NodeCommand(), "run", "--host-id", "bench-runtime", "--netns", ns.Name, "--redis", state.Endpoint, "--cluster", cluster];
        progress.WriteLine($"bench runtime: namespace {ns.Name}, state in redis-server 127.0.0.1:{state.Port}, Aggregator pid {aggregator.Pid}");

        await using (var workload = await NodeBench.Workload.StartAsync(ns).ConfigureAwait(false))
        {
            // -k 0: a connection per request (the Node's own work dominates); -k 1: persistent
            // connections, few TCP events but a context switch or two per request, which is what
            // the scheduler tracepoints see.
            foreach (var keepAlive in new[] { 0, 1 })
            {
                var requests = (int)Math.Max(10_000, await ns.RedisBenchmarkAsync(8, keepAlive, keepAlive == 0 ? 5_000 : 20_000).ConfigureAwait(false) * options.Seconds);
                var (off, on) = await CompareAsync(nodeRun, RuntimeOff, RuntimeDefault, options.Rounds, $"run queue -k {keepAlive}",
                    () => ns.RedisBenchmarkAsync(8, keepAlive, requests), progress).ConfigureAwait(false);
                output.WriteLine(Line("run_queue", $"redis-benchmark -k {keepAlive} -c 8", off, on));
            }
        }

        using (var server = ns.Start(goServer, "-listen", $"127.0.0.1:{GoPort}"))
        {
            await server.StandardOutput.ReadLineAsync().ConfigureAwait(false); // {"event":"listening",...}
            var connections = (int)Math.Max(400, await GoLoadAsync(ns, goServer, 400).ConfigureAwait(false) * options.Seconds / GoClients);
            var (off, on) = await CompareAsync(nodeRun, RuntimeDefault, GoProbeOn, options.Rounds, "Go probe",
                () => GoLoadAsync(ns, goServer, connections), progress).ConfigureAwait(false);
            output.WriteLine(Line("go_probe", $"goserver, {GoClients} clients, a connection per request", off, on));
            server.Kill();
            await server.WaitForExitAsync().ConfigureAwait(false);
        }
        return 0;
    }

    private static string Line(string what, string load, List<(double Rps, double Cores)> off, List<(double Rps, double Cores)> on)
    {
        var ratios = Enumerable.Range(0, off.Count).Select(i => on[i].Rps / off[i].Rps);
        return string.Create(CultureInfo.InvariantCulture,
            $"{what} load=\"{load}\" off_rps={NodeBench.Median(off.Select(p => p.Rps)):0} on_rps={NodeBench.Median(on.Select(p => p.Rps)):0} ratio={NodeBench.Median(ratios):0.000} " +
            $"node_cores_off={NodeBench.Median(off.Select(p => p.Cores)):0.000} node_cores_on={NodeBench.Median(on.Select(p => p.Cores)):0.000}");
    }

    /// <summary>Rounds of off/on (ABBA), each phase with a fresh Node warmed up first; the load's rate and the Node's cores per phase.</summary>
    private static async Task<(List<(double, double)> Off, List<(double, double)> On)> CompareAsync(string[] nodeRun,
        Dictionary<string, string> offEnvironment, Dictionary<string, string> onEnvironment, int rounds, string what, Func<Task<double>> load, TextWriter progress)
    {
        var (off, on) = (new List<(double, double)>(), new List<(double, double)>());
        for (var round = 0; round < rounds; round++)
        {
            foreach (var enabled in round % 2 == 0 ? new[] { false, true } : [true, false])
            {
                NodeBench.Member.Environment = enabled ? onEnvironment : offEnvironment;
                await using var node = await NodeBench.Member.StartAsync(nodeRun, "FlowMesh Node").ConfigureAwait(false);
                await load().ConfigureAwait(false); // warm-up: the JIT's background recompiles are start-up, not steady cost
                var cpu = node.CpuSeconds();
                var clock = Stopwatch.StartNew();
                var rate = await load().ConfigureAwait(false);
                var cores = (node.CpuSeconds() - cpu) / clock.Elapsed.TotalSeconds;
                (enabled ? on : off).Add((rate, cores));
                progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {what} {(enabled ? "on " : "off")}: {rate:0} req/s, Node {cores:0.00} cores"));
            }
        }
        NodeBench.Member.Environment = new Dictionary<string, string>();
        return (off, on);
    }

    /// <summary>Four Go clients at once, each making <paramref name="connections"/> connections one after another; connections per second over all.</summary>
    private static async Task<double> GoLoadAsync(NodeBench.BenchNamespace ns, string goServer, int connections)
    {
        var clock = Stopwatch.StartNew();
        var runs = Enumerable.Range(0, GoClients).Select(async _ =>
        {
            using var client = ns.Start(goServer, "-client", $"127.0.0.1:{GoPort}", "-n", connections.ToString(CultureInfo.InvariantCulture), "-interval", "0s");
            var stdout = await client.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
            await client.WaitForExitAsync().ConfigureAwait(false);
            if (client.ExitCode != 0)
                throw new SetupFailedException($"the Go client failed ({client.ExitCode}): {await client.StandardError.ReadToEndAsync().ConfigureAwait(false)}");
            return stdout.Split('\n').Count(l => l.Contains("\"connected\"", StringComparison.Ordinal));
        }).ToList();
        var made = (await Task.WhenAll(runs).ConfigureAwait(false)).Sum();
        return made / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Builds workloads/goserver (needs Debian's golang-go) into a temporary directory.</summary>
    private static async Task<string> BuildGoServerAsync(TextWriter progress)
    {
        var source = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "workloads", "goserver");
        if (!File.Exists(Path.Combine(source, "main.go")))
            throw new SetupFailedException($"workloads/goserver not found at {Path.GetFullPath(source)}: pass --goserver PATH (a binary built from it)");
        var output = Path.Combine(Path.GetTempPath(), $"flowmesh-bench-goserver-{Environment.ProcessId}");
        var info = new ProcessStartInfo("go", ["build", "-o", output, "."]) { WorkingDirectory = source, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["CGO_ENABLED"] = "0";
        info.Environment["GOCACHE"] = Environment.GetEnvironmentVariable("GOCACHE") ?? Path.Combine(Path.GetTempPath(), "flowmesh-go-cache");
        progress.WriteLine($"bench runtime: building {Path.GetFullPath(source)} (go build)");
        try
        {
            using var build = Process.Start(info)!;
            var stderr = await build.StandardError.ReadToEndAsync().ConfigureAwait(false);
            await build.WaitForExitAsync().ConfigureAwait(false);
            if (build.ExitCode != 0)
                throw new SetupFailedException($"go build of workloads/goserver failed: {stderr.Trim()}");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new SetupFailedException("go not found: scripts/install-deps.sh installs golang-go (or pass --goserver PATH)");
        }
        return output;
    }
}
