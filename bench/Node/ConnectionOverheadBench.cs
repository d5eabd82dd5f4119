using System.Diagnostics;
using System.Globalization;
using FlowMesh.Node.Kernel;

namespace FlowMesh.Bench;

/// <summary>
/// The cost of being watched: loopback connection rate with FlowMesh's capture running
/// and not, alternating within one run (ABBA order, so drift in the
/// machine's speed falls on both sides), compared as medians.
/// </summary>
internal static class ConnectionOverheadBench
{
    public static int Run(int rounds, TimeSpan phase, int threads, uint ringBytes, TextWriter progress, TextWriter output)
    {
        var sink = new CountingSink();
        // Everything in this namespace is traced, this process included: the load runs here.
        var options = new CaptureOptions { ExcludeOwnProcess = false, ReportExistingSockets = false, RingBytes = ringBytes };
        using var load = new LoopbackLoad(threads);
        load.Start();
        progress.WriteLine($"bench connections: {rounds} rounds of {phase.TotalSeconds:0.#} s traced + {phase.TotalSeconds:0.#} s untraced, {threads} client thread(s), {ringBytes / 1024} KiB rings");

        Measure(load, phase); // warm-up: JIT, socket tables, caches
        var untraced = new List<double>();
        var traced = new List<double>();
        long records = 0, drops = 0;
        for (var round = 1; round <= rounds; round++)
        {
            var tracedFirst = round % 2 == 0;
            foreach (var withTracing in tracedFirst ? new[] { true, false } : [false, true])
            {
                if (!withTracing)
                {
                    untraced.Add(Measure(load, phase));
                    continue;
                }
                // Traced: the capture loaded and attached as `capture` and `run` do, and gone after.
                using var session = CaptureSession.Start(options, sink);
                traced.Add(Measure(load, phase));
                var summary = session.Stop();
                (records, drops) = (records + summary.Records, drops + summary.Drops);
            }
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  round {round}/{rounds}: untraced {untraced[^1]:0}/s, traced {traced[^1]:0}/s, ratio {traced[^1] / untraced[^1]:0.000}"));
        }

        var medianUntraced = Stats.Median(untraced);
        var medianTraced = Stats.Median(traced);
        // Each round's two phases ran back to back under the same conditions: the median of
        // those paired ratios is steadier on a shared VM than the ratio of the two medians.
        var pairedRatio = Stats.Median(traced.Zip(untraced, (t, u) => t / u).ToList());
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"connections_untraced_per_s={medianUntraced:0} connections_traced_per_s={medianTraced:0} ratio={pairedRatio:0.000} " +
            $"ratio_of_medians={medianTraced / medianUntraced:0.000} rounds={rounds} records={records} drops={drops}"));
        return 0;
    }

    private static double Measure(LoopbackLoad load, TimeSpan phase)
    {
        var before = load.Completed;
        var clock = Stopwatch.StartNew();
        Thread.Sleep(phase);
        return (load.Completed - before) / clock.Elapsed.TotalSeconds;
    }
}
