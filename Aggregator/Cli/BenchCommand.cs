using System.CommandLine;
using FlowMesh.Aggregator.Bench;

namespace FlowMesh.Aggregator.Cli;

/// <summary><c>bench</c>: how fast one Aggregator joins sessions, and how soon they can be queried.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var rate = new Option<int>("--rate") { Description = "Sessions per second while latency is measured.", DefaultValueFactory = _ => 5_000 };
        var seconds = new Option<double>("--seconds") { Description = "Length of the latency phase.", DefaultValueFactory = _ => 20 };
        var probes = new Option<int>("--probes") { Description = "Sessions per second asked for until queryable (the latency sample).", DefaultValueFactory = _ => 100 };
        var burst = new Option<int>("--burst") { Description = "Sessions sent at once for the throughput phase.", DefaultValueFactory = _ => 200_000 };
        var command = new Command("bench", """
            Measure one Aggregator: starts a private redis-server and an Aggregator process, joins the
            cluster and sends it closed client and server flows the way Nodes do. Prints the time from
            both sides handed over to the session being queryable (P50, P99) at a steady rate, then
            sessions per second for a burst. Last line: key=value results. Run with -c Release.
            """)
        {
            rate, seconds, probes, burst,
        };
        command.SetAction(async (parse, _) =>
        {
            try
            {
                return await SessionBench.RunAsync(parse.GetValue(rate), TimeSpan.FromSeconds(parse.GetValue(seconds)), parse.GetValue(probes),
                    parse.GetValue(burst), Console.Error, Console.Out).ConfigureAwait(false);
            }
            catch (InvalidOperationException e)
            {
                await Console.Error.WriteLineAsync($"flowmesh: error: {e.Message}").ConfigureAwait(false);
                return 1;
            }
        });
        return command;
    }
}
