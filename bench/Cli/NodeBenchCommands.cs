using System.CommandLine;
using FlowMesh.Node.Kernel;
using FlowMesh.TestSupport;

namespace FlowMesh.Bench;

/// <summary>The Node's benchmarks: the actor path, connection overhead, ingest, the whole Node, the runtime measurements.</summary>
internal static class NodeBenchCommands
{
    public static IEnumerable<Command> All() => [Actors(), Connections(), Ingest(), Load(), NodeRun(), RuntimeRun()];

    private static Command Actors()
    {
        var events = new Option<long>("--events") { Description = "Events to push through the actor path.", DefaultValueFactory = _ => 2_000_000 };
        var flows = new Option<int>("--flows") { Description = "Connections open at once (and the flows weighed for memory).", DefaultValueFactory = _ => 20_000 };
        var rate = new Option<int>("--rate") { Description = "Events per second at which latency is measured.", DefaultValueFactory = _ => 200_000 };
        var bench = new Command("actors", """
            The Node's actor path without the kernel (synthetic per-CPU sources -> capture actors ->
            flow shards, with a private redis-server): last line events_per_s=... p99_latency_ms=...
            bytes_per_flow=... Run with -c Release.
            """)
        {
            events, flows, rate,
        };
        bench.SetAction(async (parse, _) => await GuardAsync(() => ActorPathBench.RunAsync(
            parse.GetValue(events), parse.GetValue(flows), parse.GetValue(rate), Console.Error, Console.Out)).ConfigureAwait(false));
        return bench;
    }

    private static Command Connections()
    {
        var rounds = new Option<int>("--rounds") { Description = "Traced/untraced pairs to run.", DefaultValueFactory = _ => 10 };
        var seconds = new Option<double>("--seconds") { Description = "Length of each phase.", DefaultValueFactory = _ => 2 };
        var threads = new Option<int>("--threads") { Description = "Client threads (each with a server thread).", DefaultValueFactory = _ => 1 };
        var ringSize = new Option<uint>("--ring-size") { Description = "Bytes per CPU ring buffer.", DefaultValueFactory = _ => CaptureOptions.DefaultRingBytes };
        var command = new Command("connections", """
            Loopback connection rate (connect, 1 byte, close) with FlowMesh's programs attached
            and detached, alternating in one run; prints the medians and their ratio.
            """) { rounds, seconds, threads, ringSize };
        command.SetAction(parse => Guard(() => ConnectionOverheadBench.Run(
            parse.GetValue(rounds), TimeSpan.FromSeconds(parse.GetValue(seconds)), parse.GetValue(threads), parse.GetValue(ringSize), Console.Error, Console.Out)));
        return command;
    }

    private static Command Ingest()
    {
        var seconds = new Option<double>("--seconds") { Description = "Length of each load level.", DefaultValueFactory = _ => 10 };
        var threads = new Option<int[]>("--threads")
        {
            Description = "Load levels: client threads of the churn process (repeatable).",
            DefaultValueFactory = _ => [1, 2],
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("ingest", """
            Records per second the ring readers take in from a separate process churning loopback
            connections, with kernel drops, this process's CPU, and kernel-to-reader delay.
            """) { seconds, threads };
        command.SetAction(async (parse, _) => await GuardAsync(() => IngestBench.RunAsync(
            TimeSpan.FromSeconds(parse.GetValue(seconds)), parse.GetValue(threads) ?? [1, 2], Console.Error, Console.Out)).ConfigureAwait(false));
        return command;
    }

    private static Command NodeRun()
    {
        var seconds = new Option<double>("--seconds") { Description = "Length of each phase.", DefaultValueFactory = _ => 8 };
        var rounds = new Option<int>("--rounds") { Description = "Untraced/traced pairs per load (ABBA order).", DefaultValueFactory = _ => 2 };
        var clients = new Option<int>("--clients") { Description = "redis-benchmark's parallel clients (-c).", DefaultValueFactory = _ => 8 };
        var keepAlive = new Option<int[]>("--keepalive")
        {
            Description = "Loads: 0 = a new connection per request, 1 = persistent connections (redis-benchmark -k; repeatable).",
            DefaultValueFactory = _ => [0, 1],
            AllowMultipleArgumentsPerToken = true,
        };
        var idle = new Option<int>("--idle-connections") { Description = "Idle connections held open to weigh memory per live flow (0: skip).", DefaultValueFactory = _ => 10_000 };
        var aggregator = new Option<string?>("--aggregator") { Description = "FlowMesh.Aggregator.dll to run (default: the build beside this one)." };
        var tls = new Option<bool>("--tls") { Description = "Run the Node and the Aggregator with mutual TLS (a throwaway CA), as a fleet does." };
        var command = new Command("node", """
            The Node as users run it (needs root): a redis-server in a namespace of the bench's own,
            loaded by redis-benchmark, without and with a real Node `run` capturing it and a real
            Aggregator, ABBA. Prints the traced/untraced ratio, Node CPU per kernel event, kernel
            event -> flow state P50/P99, drops, and memory per live flow.
            """) { seconds, rounds, clients, keepAlive, idle, aggregator, tls };
        command.SetAction(async (parse, _) => await GuardAsync(() => NodeBench.RunAsync(
            new NodeBench.Options(parse.GetValue(seconds), parse.GetValue(rounds), parse.GetValue(clients), parse.GetValue(keepAlive) ?? [0, 1],
                parse.GetValue(idle), parse.GetValue(aggregator), parse.GetValue(tls)), Console.Error, Console.Out)).ConfigureAwait(false));
        return command;
    }

    private static Command RuntimeRun()
    {
        var seconds = new Option<double>("--seconds") { Description = "Length of each phase.", DefaultValueFactory = _ => 8 };
        var rounds = new Option<int>("--rounds") { Description = "Off/on pairs per comparison (ABBA order).", DefaultValueFactory = _ => 2 };
        var goServer = new Option<string?>("--goserver") { Description = "A goserver binary (default: build workloads/goserver with go build)." };
        var command = new Command("runtime", """
            What the runtime measurements cost (needs root): a real Node capturing a namespace of the
            bench's own in every phase; redis-benchmark -k 0 with run-queue tracing and accept()
            reporting off and on, then the Go workload with the Go probe off and on, ABBA. Prints
            the on/off ratio of each and the Node's cores.
            """) { seconds, rounds, goServer };
        command.SetAction(async (parse, _) => await GuardAsync(() => RuntimeBench.RunAsync(
            new RuntimeBench.Options(parse.GetValue(seconds), parse.GetValue(rounds), parse.GetValue(goServer)), Console.Error, Console.Out)).ConfigureAwait(false));
        return command;
    }

    private static Command Load()
    {
        var port = new Option<int>("--port") { Description = "Loopback port to listen on and connect to.", Required = true };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 1, Description = "Client threads." };
        var seconds = new Option<double>("--seconds") { DefaultValueFactory = _ => 10, Description = "How long to run." };
        var command = new Command("load", "Churn loopback connections (the load process of `ingest`).") { port, threads, seconds };
        command.SetAction(parse => LoadProcess.Run(parse.GetValue(port), parse.GetValue(threads), TimeSpan.FromSeconds(parse.GetValue(seconds)), Console.Out));
        return command;
    }

    private static int Guard(Func<int> run)
    {
        try
        {
            return run();
        }
        catch (CaptureStartException ex)
        {
            Console.Error.WriteLine($"flowmesh: error: {ex.Message}");
            return 1;
        }
    }

    private static async Task<int> GuardAsync(Func<Task<int>> run)
    {
        try
        {
            return await SetupFailedException.ReportAsync(run).ConfigureAwait(false);
        }
        catch (CaptureStartException ex)
        {
            await Console.Error.WriteLineAsync($"flowmesh: error: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}
