using System.CommandLine;
using FlowMesh.TestSupport;

namespace FlowMesh.Bench;

/// <summary>The Aggregator's benchmarks: <c>sessions</c>, how fast one Aggregator joins sessions and how soon they can be queried; <c>gateway</c>, how fast the gateway answers.</summary>
internal static class AggregatorBenchCommands
{
    public static IEnumerable<Command> All() => [Sessions(), Gateway()];

    private static Command Sessions()
    {
        var rate = new Option<int>("--rate") { Description = "Sessions per second while latency is measured.", DefaultValueFactory = _ => 5_000 };
        var seconds = new Option<double>("--seconds") { Description = "Length of the latency phase.", DefaultValueFactory = _ => 20 };
        var probes = new Option<int>("--probes") { Description = "Sessions per second asked for until queryable (the latency sample).", DefaultValueFactory = _ => 100 };
        var burst = new Option<int>("--burst") { Description = "Sessions sent at once for the throughput phase.", DefaultValueFactory = _ => 200_000 };
        var command = new Command("sessions", """
            Measure one Aggregator: starts a private redis-server and an Aggregator process, joins the
            cluster and sends it closed client and server flows the way Nodes do. Prints the time from
            both sides handed over to the session being queryable (P50, P99) at a steady rate, then
            sessions per second for a burst. Last line: key=value results. Run with -c Release.
            """)
        {
            rate, seconds, probes, burst,
        };
        command.SetAction((parse, _) => SetupFailedException.ReportAsync(() => SessionBench.RunAsync(parse.GetValue(rate),
            TimeSpan.FromSeconds(parse.GetValue(seconds)), parse.GetValue(probes), parse.GetValue(burst), Console.Error, Console.Out)));
        return command;
    }

    private static Command Gateway()
    {
        var sessions = new Option<int>("--sessions") { Description = "Sessions stored before measuring.", DefaultValueFactory = _ => 100_000 };
        var seconds = new Option<double>("--seconds") { Description = "Seconds of load per endpoint.", DefaultValueFactory = _ => 10 };
        var concurrency = new Option<int>("--concurrency") { Description = "Concurrent HTTP clients.", DefaultValueFactory = _ => 16 };
        var command = new Command("gateway", """
            Measure the gateway: stores sessions (and their latency sketches) in a private
            redis-server, starts an Aggregator process with its gateway, and loads /api/latency
            and /api/sessions from concurrent clients. Prints requests per second and P50/P99 per
            endpoint. Last line: key=value results. Run with -c Release.
            """)
        {
            sessions, seconds, concurrency,
        };
        command.SetAction((parse, _) => SetupFailedException.ReportAsync(() => GatewayBench.RunAsync(parse.GetValue(sessions),
            TimeSpan.FromSeconds(parse.GetValue(seconds)), parse.GetValue(concurrency), Console.Error, Console.Out)));
        return command;
    }
}
