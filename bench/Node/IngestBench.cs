using System.Diagnostics;
using System.Globalization;
using FlowMesh.Node.Kernel;
using FlowMesh.TestSupport;

namespace FlowMesh.Bench;

/// <summary>
/// What the readers sustain: a separate process churns loopback connections (so the
/// CPU this process uses is the Node's alone) while the capture counts records,
/// kernel drops, its own CPU time and the delay from kernel event to reader.
/// </summary>
internal static class IngestBench
{
    public static async Task<int> RunAsync(TimeSpan duration, int[] threadLevels, TextWriter progress, TextWriter output)
    {
        var port = LoopbackPort.Free();
        var sink = new LatencySink();
        using var session = CaptureSession.Start(
            new CaptureOptions { IncludePorts = [(ushort)port], ReportExistingSockets = false }, sink);
        progress.WriteLine($"bench ingest: {duration.TotalSeconds:0.#} s per level, load threads {string.Join(", ", threadLevels)}, port {port}, {session.Cpus} CPUs");

        string? last = null;
        foreach (var threads in threadLevels)
        {
            using var load = StartLoad(port, threads, duration);
            await WaitForLine(load, "ready");
            var before = session.Snapshot();
            sink.ResetLatency();
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            var completed = await WaitForLine(load, "completed=");
            var elapsed = clock.Elapsed.TotalSeconds;
            var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds / elapsed;
            await Task.Delay(50); // let the readers' next poll collect the tail
            var after = session.Snapshot();

            var records = after.Records - before.Records;
            var drops = after.Drops - before.Drops;
            var (p50, p99) = sink.LatencyPercentiles();
            last = string.Create(CultureInfo.InvariantCulture,
                $"records_per_s={records / elapsed:0} drops={drops} node_cpu_cores={cpu:0.000} cpu_per_100k_records={cpu / (records / elapsed) * 100_000:0.000} " +
                $"kernel_to_reader_p50_ms={p50:0.000} kernel_to_reader_p99_ms={p99:0.000} load_threads={threads} connections_per_s={long.Parse(completed.Split('=')[1], CultureInfo.InvariantCulture) / elapsed:0}");
            output.WriteLine(last);
            await load.WaitForExitAsync();
        }
        session.Stop();
        return 0;
    }

    private static Process StartLoad(int port, int threads, TimeSpan duration)
    {
        var self = Environment.ProcessPath!;
        var info = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        // Under `dotnet FlowMesh.Bench.dll`, ProcessPath is dotnet itself and the assembly comes first.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            info.ArgumentList.Add(typeof(IngestBench).Assembly.Location);
        foreach (var a in new[] { "load", "--port", $"{port}", "--threads", $"{threads}", "--seconds", duration.TotalSeconds.ToString(CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }

    private static async Task<string> WaitForLine(Process process, string prefix)
    {
        while (await process.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
                return line;
        }
        throw new SetupFailedException($"the load process ended before printing '{prefix}'");
    }

    /// <summary>Counts records and keeps a sample of kernel-to-reader delays (monotonic clock, both sides).</summary>
    private sealed class LatencySink : IRecordBatchSink
    {
        private const int SampleCapacity = 1 << 22;
        private readonly long[] _delaysNs = new long[SampleCapacity];
        private long _count;

        public void Deliver(RecordBatch batch)
        {
            var now = MonotonicClock.NowNs();
            foreach (ref readonly var r in batch.Records)
            {
                var i = Interlocked.Increment(ref _count) - 1;
                if (i < SampleCapacity)
                    _delaysNs[i] = now - (long)r.TimestampNs;
            }
            batch.Release();
        }

        public void ResetLatency() => Interlocked.Exchange(ref _count, 0);

        public (double P50Ms, double P99Ms) LatencyPercentiles()
        {
            var n = (int)Math.Min(Interlocked.Read(ref _count), SampleCapacity);
            if (n == 0)
                return (0, 0);
            var sample = _delaysNs.AsSpan(0, n).ToArray();
            Array.Sort(sample);
            return (sample[n / 2] / 1e6, sample[Math.Min(n - 1, (int)(n * 0.99))] / 1e6);
        }
    }
}

/// <summary>`bench load`: the churn process <see cref="IngestBench"/> starts.</summary>
internal static class LoadProcess
{
    public static int Run(int port, int threads, TimeSpan duration, TextWriter output)
    {
        using var load = new LoopbackLoad(threads, port);
        load.Start();
        output.WriteLine("ready");
        output.Flush();
        var start = load.Completed;
        Thread.Sleep(duration);
        output.WriteLine($"completed={load.Completed - start}");
        output.Flush();
        return 0;
    }
}
