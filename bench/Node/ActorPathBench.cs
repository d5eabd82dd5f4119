using System.Diagnostics;
using System.Globalization;
using FlowMesh.Cluster;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Actors;
using FlowMesh.Node.Hosting;
using FlowMesh.Node.Kernel;
using FlowMesh.TestSupport;
using FlowMesh.TestSupport.Records;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Bench;

/// <summary>
/// The actor path without the kernel: one synthetic source per CPU stands in for
/// the ring readers and hands batches to the real capture actors, which feed the real
/// flow shards (through the ordering horizon, writing closed flows to a private
/// redis-server). Measures, in one run:
/// 1. managed memory per live flow (table slot, state);
/// 2. the most events per second the path applies;
/// 3. P99 delay from the event's timestamp to its flow's state, at a paced rate.
/// </summary>
internal static class ActorPathBench
{
    private const int EventsPerFlow = 5; // a client's connect..close
    private const int BatchSize = 256;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(1);

    public static async Task<int> RunAsync(long events, int liveFlows, int rate, TextWriter progress, TextWriter output)
    {
        await using var redisServer = await LocalRedisServer.StartAsync().ConfigureAwait(false);
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning));
        var redis = await RedisConnection.ConnectAsync(redisServer.Endpoint, loggers.CreateLogger("bench")).ConfigureAwait(false);
        var cpus = Environment.ProcessorCount;
        // Closed flows leave memory soon, so the next phase starts from a quiet Node.
        var flowOptions = new FlowOptions { Linger = TimeSpan.FromSeconds(1) };
        await using var pipeline = await FlowPipeline.StartAsync(redis, new ClusterSettings { Redis = redisServer.Endpoint, Name = "bench" },
            "bench-host", cpus, flowOptions, loggers).ConfigureAwait(false);
        progress.WriteLine($"bench: actor path, {cpus} CPUs, private redis-server on {redisServer.Endpoint}");
        using var stopIdle = new CancellationTokenSource();
        var idleRings = IdleRingsAsync(pipeline, cpus, stopIdle.Token);

        // 1. Memory: open flows that stay open, then weigh the heap.
        var cookies = new CookieSource();
        var baseline = WeighHeap();
        var open = Enumerable.Range(0, liveFlows).Select(_ => cookies.Next()).ToArray();
        Feed(pipeline, OpenOnly(open), cpus);
        await WaitApplied(pipeline, 2L * liveFlows).ConfigureAwait(false);
        var bytesPerFlow = (WeighHeap() - baseline) / (double)liveFlows;
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  memory: {liveFlows} live flows, {bytesPerFlow:0} bytes each"));
        Feed(pipeline, CloseOnly(open), cpus);
        await WaitApplied(pipeline, 5L * liveFlows).ConfigureAwait(false);

        // 2. Throughput: as fast as the sources can hand batches over, with liveFlows flows open at once.
        var before = pipeline.Counters.FlowEvents;
        var clock = Stopwatch.StartNew();
        RunSources(cpus, cpu => Feed(pipeline, Lifecycles(cookies, liveFlows / cpus, events / cpus, rate: 0), cpus, cpu));
        var total = (events / cpus) * cpus;
        await WaitApplied(pipeline, before + total).ConfigureAwait(false);
        var eventsPerSecond = total / clock.Elapsed.TotalSeconds;
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  throughput: {total} events in {clock.Elapsed.TotalSeconds:0.00} s = {eventsPerSecond:0} events/s"));

        // 3. Latency at a paced rate (events/s over all sources), timestamps taken as a ring reader would see them.
        // Read as users read it: the Node's apply delay (apply_delay_p50_us, apply_delay_p99_us)
        // over its window, so the window first lets the throughput phase go by.
        await Task.Delay(TimeSpan.FromSeconds(ApplyDelay.WindowSeconds + 1)).ConfigureAwait(false);
        var gcPause = GC.GetTotalPauseDuration();
        var gcCounts = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        before = pipeline.Counters.FlowEvents;
        var pacedEvents = Math.Min(events, rate * 5L);
        RunSources(cpus, cpu => Feed(pipeline, Lifecycles(cookies, liveFlows / cpus, pacedEvents / cpus, rate / cpus), cpus, cpu));
        await WaitApplied(pipeline, before + (pacedEvents / cpus) * cpus).ConfigureAwait(false);
        var (p50Us, p99Us) = pipeline.Counters.ApplyDelay.Percentiles();
        var (p50, p99) = (p50Us / 1000.0, p99Us / 1000.0);
        progress.WriteLine($"  gc during latency phase: pause {(GC.GetTotalPauseDuration() - gcPause).TotalMilliseconds:0} ms, collections gen0 {GC.CollectionCount(0) - gcCounts.Item1}, gen1 {GC.CollectionCount(1) - gcCounts.Item2}, gen2 {GC.CollectionCount(2) - gcCounts.Item3}, heap {GC.GetTotalMemory(false) / 1048576} MiB");
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  latency at {rate} events/s: p50 {p50:0.000} ms, p99 {p99:0.000} ms"));

        var counters = pipeline.Counters;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"events_per_s={eventsPerSecond:0} p99_latency_ms={p99:0.000} bytes_per_flow={bytesPerFlow:0} " +
            $"p50_latency_ms={p50:0.000} latency_rate={rate} live_flows={liveFlows} undeliverable={counters.Undeliverable} dead_letters={counters.DeadLetters} " +
            $"redis_failures={redis.Failures}"));
        await stopIdle.CancelAsync().ConfigureAwait(false);
        await idleRings.ConfigureAwait(false);
        await pipeline.ShutdownAsync("benchmark done").ConfigureAwait(false);
        return 0;
    }

    /// <summary>
    /// Runs one source per CPU on its own thread, as the ring readers run: sources on
    /// thread-pool threads would starve the actors of the pool on a small machine.
    /// </summary>
    private static void RunSources(int cpus, Action<int> source)
    {
        var threads = Enumerable.Range(0, cpus).Select(cpu => new Thread(() => source(cpu)) { IsBackground = true, Name = $"bench-source-{cpu}" }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
    }

    /// <summary>
    /// Hands records to the pipeline as one CPU's ring reader would: a batch when it is
    /// full or when a poll interval has passed since its first record.
    /// </summary>
    private static void Feed(FlowPipeline pipeline, IEnumerable<TcpEventRecord> records, int cpus, int cpu = -1)
    {
        var (first, last) = cpu >= 0 ? (cpu, cpu) : (0, cpus - 1);
        for (var c = first; c <= last; c++)
            Interlocked.Increment(ref s_feeding[c]);
        var batch = RecordBatch.Rent(BatchSize);
        var count = 0;
        var next = 0;
        var firstAt = 0L;
        foreach (var r in records)
        {
            if (count == 0)
                firstAt = Stopwatch.GetTimestamp();
            batch[count++] = r;
            if (count == BatchSize || Stopwatch.GetElapsedTime(firstAt) >= PollInterval)
            {
                pipeline.Sink.Deliver(new RecordBatch(cpu >= 0 ? cpu : next++ % cpus, batch, count));
                Drained(pipeline, first, last);
                batch = RecordBatch.Rent(BatchSize);
                count = 0;
            }
        }
        if (count > 0)
            pipeline.Sink.Deliver(new RecordBatch(cpu >= 0 ? cpu : next % cpus, batch, count));
        else
            new RecordBatch(0, batch, 0).Release();
        Drained(pipeline, first, last);
        for (var c = first; c <= last; c++)
            Interlocked.Decrement(ref s_feeding[c]);
    }

    // Sources feeding each CPU now; the others are idle rings (see IdleRings).
    private static readonly int[] s_feeding = new int[Environment.ProcessorCount];

    /// <summary>Nothing of these CPUs waits to be delivered: what a reader tells after a pass that emptied its ring.</summary>
    private static void Drained(FlowPipeline pipeline, int first, int last)
    {
        var now = MonotonicClock.NowNs(); // records made after this are stamped later
        for (var c = first; c <= last; c++)
            pipeline.Sink.Drained(c, now);
    }

    /// <summary>As a real reader does between records, every poll interval a CPU no source is feeding tells it is drained.</summary>
    private static async Task IdleRingsAsync(FlowPipeline pipeline, int cpus, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(PollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                var now = MonotonicClock.NowNs(); // before looking: a source that starts after it stamps later
                for (var c = 0; c < cpus; c++)
                {
                    if (Volatile.Read(ref s_feeding[c]) == 0)
                        pipeline.Sink.Drained(c, now);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static readonly (TcpState From, TcpState To)[] Client =
    [
        (TcpState.Close, TcpState.SynSent), (TcpState.SynSent, TcpState.Established), (TcpState.Established, TcpState.FinWait1),
        (TcpState.FinWait1, TcpState.FinWait2), (TcpState.FinWait2, TcpState.Close),
    ];

    private static TcpEventRecord Record(ulong cookie, int step) =>
        TcpEventRecordBuilder.Transition(cookie, Client[step].From, Client[step].To, (ulong)MonotonicClock.NowNs()).ToRecord();

    private static IEnumerable<TcpEventRecord> OpenOnly(ulong[] cookies)
    {
        foreach (var c in cookies)
        {
            yield return Record(c, 0);
            yield return Record(c, 1);
        }
    }

    private static IEnumerable<TcpEventRecord> CloseOnly(ulong[] cookies)
    {
        foreach (var c in cookies)
        {
            for (var step = 2; step < EventsPerFlow; step++)
                yield return Record(c, step);
        }
    }

    /// <summary>
    /// <paramref name="concurrent"/> connections in flight; each round advances every one
    /// by one event, and a finished connection is replaced by a new one, so one flow's
    /// events are spread out like a real connection's. Paced when <paramref name="rate"/> &gt; 0.
    /// </summary>
    private static IEnumerable<TcpEventRecord> Lifecycles(CookieSource cookies, int concurrent, long events, int rate)
    {
        var flows = Enumerable.Range(0, Math.Max(1, concurrent)).Select(i => (Cookie: cookies.Next(), Step: i % EventsPerFlow)).ToArray();
        var clock = Stopwatch.StartNew();
        for (long produced = 0; produced < events;)
        {
            for (var i = 0; i < flows.Length && produced < events; i++, produced++)
            {
                var (cookie, step) = flows[i];
                // A flow that starts mid-way (step > 0) on its first round would be mid-life; start it at step 0.
                if (produced < flows.Length && step != 0)
                    step = 0;
                yield return Record(cookie, step);
                flows[i] = step + 1 == EventsPerFlow ? (cookies.Next(), 0) : (cookie, step + 1);
                if (rate > 0 && produced % 64 == 0)
                {
                    var due = TimeSpan.FromSeconds(produced / (double)rate);
                    while (clock.Elapsed < due)
                        Thread.Sleep(1);
                }
            }
        }
    }

    private static async Task WaitApplied(FlowPipeline pipeline, long target)
    {
        var deadline = Stopwatch.StartNew();
        while (pipeline.Counters.FlowEvents < target)
        {
            if (deadline.Elapsed > TimeSpan.FromMinutes(5))
                throw new TimeoutException($"only {pipeline.Counters.FlowEvents} of {target} events were applied");
            await Task.Delay(5).ConfigureAwait(false);
        }
    }

    private static long WeighHeap()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private sealed class CookieSource
    {
        private long _next = 1;
        public ulong Next() => (ulong)Interlocked.Increment(ref _next);
    }
}
