using System.Diagnostics;
using System.Globalization;
using FlowMesh.Aggregator.Latency;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Latency;
using FlowMesh.Contracts.Messages;
using FlowMesh.TestSupport;
using Google.Protobuf;
using StackExchange.Redis;

namespace FlowMesh.Bench;

/// <summary>
/// How fast the gateway answers with a realistic store: seeds a private redis-server with
/// sessions (spread over the last 30 minutes and over many edges) and the latency
/// sketches they make, starts an Aggregator process with its gateway, and sends
/// requests from concurrent clients for a fixed time per endpoint: requests per
/// second and latency percentiles, measured side by side in one run.
/// </summary>
internal static class GatewayBench
{
    private const int Edges = 50;
    private static readonly TimeSpan Spread = TimeSpan.FromMinutes(30);

    public static async Task<int> RunAsync(int sessions, TimeSpan perEndpoint, int concurrency, TextWriter progress, TextWriter results)
    {
        await using var redis = await LocalRedisServer.StartAsync().ConfigureAwait(false);
        var cluster = $"bench{Random.Shared.Next(1 << 20):x}";
        var keys = new RedisKeys(cluster);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint + ",allowAdmin=true").ConfigureAwait(false);
        var db = connection.GetDatabase();

        var seeding = Stopwatch.StartNew();
        var edges = await SeedAsync(db, keys, sessions, progress).ConfigureAwait(false);
        await progress.WriteLineAsync($"seeded {sessions:N0} sessions over {Edges} edges and their latency sketches in {seeding.Elapsed.TotalSeconds:F1} s; used memory {await UsedMemoryAsync(connection).ConfigureAwait(false)}").ConfigureAwait(false);

        var port = LoopbackPort.Free();
        using var aggregator = AggregatorProcess.Start(redis.Endpoint, cluster, "--listen", $"127.0.0.1:{port}");
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}"),
            Timeout = TimeSpan.FromSeconds(30),
        };
        await WaitReadyAsync(http, aggregator).ConfigureAwait(false);

        var edge = Uri.EscapeDataString(edges[0]);
        var targets = new (string Name, string Path)[]
        {
            ("latency edge 1h", $"/api/latency?edge={edge}&window=1h"),
            ("latency cluster 5m", "/api/latency?window=5m"),
            ("sessions newest 100", "/api/sessions?limit=100"),
            ("sessions edge 100", $"/api/sessions?edge={edge}&limit=100"),
        };
        await progress.WriteLineAsync($"{concurrency} concurrent clients, {perEndpoint.TotalSeconds:F0} s per endpoint (after 2 s of warm-up)").ConfigureAwait(false);
        await results.WriteLineAsync($"{"endpoint",-22} {"requests/s",11} {"p50 ms",8} {"p99 ms",8} {"errors",7}").ConfigureAwait(false);
        var line = new List<string>();
        foreach (var (name, path) in targets)
        {
            await LoadAsync(http, path, concurrency, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            var cpuBefore = aggregator.CpuTime;
            var r = await LoadAsync(http, path, concurrency, perEndpoint).ConfigureAwait(false);
            var cores = (aggregator.CpuTime - cpuBefore).TotalSeconds / perEndpoint.TotalSeconds;
            await results.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{name,-22} {r.PerSecond,11:F0} {r.P50Ms,8:F2} {r.P99Ms,8:F2} {r.Errors,7}   (aggregator {cores:F2} cores)")).ConfigureAwait(false);
            var key = name.Replace(' ', '_');
            line.Add(string.Create(CultureInfo.InvariantCulture, $"{key}_rps={r.PerSecond:F0} {key}_p99_ms={r.P99Ms:F2}"));
        }
        await results.WriteLineAsync($"sessions={sessions} concurrency={concurrency} " + string.Join(' ', line)).ConfigureAwait(false);
        return 0;
    }

    private sealed record LoadResult(double PerSecond, double P50Ms, double P99Ms, long Errors);

    private static async Task<LoadResult> LoadAsync(HttpClient http, string path, int concurrency, TimeSpan length)
    {
        var until = Stopwatch.GetTimestamp() + (long)(length.TotalSeconds * Stopwatch.Frequency);
        long errors = 0;
        var workers = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            var samples = new List<double>(4096);
            while (Stopwatch.GetTimestamp() < until)
            {
                var start = Stopwatch.GetTimestamp();
                using var response = await http.GetAsync(path, HttpCompletionOption.ResponseContentRead).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                    Interlocked.Increment(ref errors);
                samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
            return samples;
        }).ToList();
        var all = (await Task.WhenAll(workers).ConfigureAwait(false)).SelectMany(s => s).Order().ToArray();
        return new LoadResult(all.Length / length.TotalSeconds, SessionBench.Percentile(all, 0.5), SessionBench.Percentile(all, 0.99), errors);
    }

    /// <summary>Sessions as the Aggregator stores them, and per edge and 10 s bucket the connect latency sketch they make.</summary>
    private static async Task<List<string>> SeedAsync(IDatabase db, RedisKeys keys, int count, TextWriter progress)
    {
        var random = new Random(1);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var edges = Enumerable.Range(0, Edges).Select(i => $"client-{i % 10}>10.2.{i / 10}.1:{8000 + i}").ToList();
        var sketches = new Dictionary<(string Scope, long Bucket), LatencySketch>();
        var batch = new List<Task>(2000);
        for (var i = 0; i < count; i++)
        {
            var edge = edges[i % Edges];
            var end = now - (long)(random.NextDouble() * Spread.TotalMilliseconds);
            var connectMs = Math.Exp(Math.Log(0.3) + 0.8 * Gaussian(random));
            var session = Session(i, edge, end, connectMs, random);
            batch.Add(db.StringSetAsync(keys.Session(session.Id), session.ToByteArray(), TimeSpan.FromHours(1)));
            batch.Add(db.SortedSetAddAsync(keys.SessionIndex, session.Id, end));
            foreach (var scope in new[] { LatencyScopes.All, LatencyScopes.Edge(edge) })
            {
                var key = (scope, LatencyRecorder.BucketOf(end));
                if (!sketches.TryGetValue(key, out var sketch))
                    sketches[key] = sketch = new LatencySketch();
                sketch.Add(connectMs * 1000);
            }
            if (batch.Count >= 2000)
            {
                await Task.WhenAll(batch).ConfigureAwait(false);
                batch.Clear();
            }
            if ((i + 1) % 20_000 == 0)
                await progress.WriteLineAsync($"  {i + 1:N0} sessions stored").ConfigureAwait(false);
        }
        foreach (var ((scope, bucket), sketch) in sketches)
            batch.Add(db.HashSetAsync(keys.LatencyBucket(scope, LatencyMetric.Connect.Name(), bucket), "bench-member", sketch.ToData().ToByteArray()));
        await Task.WhenAll(batch).ConfigureAwait(false);
        return edges;
    }

    private static SessionView Session(int i, string edge, long endMs, double connectMs, Random random)
    {
        var split = edge.IndexOf('>', StringComparison.Ordinal);
        var server = edge[(split + 1)..];
        var colon = server.LastIndexOf(':');
        var durationMs = 1 + random.NextDouble() * 500;
        return new SessionView
        {
            Id = $"tag:{i:x16}", Join = JoinMethod.Tag, TraceTag = (ulong)i + 1, TagSent = true, TagEchoed = true, TagSeenByServer = true,
            ClientWorkload = edge[..split], ServerEndpoint = server, ClientHost = $"host-{i % 7}", ServerHost = $"host-{7 + i % 5}",
            Client = new SessionSide { HostId = $"host-{i % 7}", Cookie = (ulong)i, LocalAddress = "10.1.0.1", LocalPort = (uint)(1024 + i % 60000),
                RemoteAddress = server[..colon], RemotePort = uint.Parse(server[(colon + 1)..], CultureInfo.InvariantCulture), Comm = edge[..split],
                State = "TCP_CLOSE", Closed = true, CloseReason = CloseReason.Normal, EstablishedUnixNs = (endMs - (long)durationMs) * 1_000_000 },
            ConnectMs = connectMs, ClientDurationMs = durationMs, ClientRttMs = connectMs / 2,
            BytesClientToServer = (ulong)random.Next(100, 100_000), BytesServerToClient = (ulong)random.Next(100, 1_000_000),
            Reset = "none", Complete = true, Closed = true, StartUnixMs = endMs - (long)durationMs, EndUnixMs = endMs,
        };
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static async Task WaitReadyAsync(HttpClient http, AggregatorProcess aggregator)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (aggregator.HasExited)
                throw new SetupFailedException($"the Aggregator exited: {aggregator.LastLines}");
            try
            {
                using var response = await http.GetAsync("/readyz").ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(200).ConfigureAwait(false);
        }
        throw new SetupFailedException($"the Aggregator's gateway was not ready within 30 s: {aggregator.LastLines}");
    }

    private static async Task<string> UsedMemoryAsync(ConnectionMultiplexer connection)
    {
        // The server by its endpoint, not the configuration string (which carries the password).
        var info = await connection.GetServer(connection.GetEndPoints()[0]).InfoAsync("memory").ConfigureAwait(false);
        return info.SelectMany(g => g).FirstOrDefault(p => p.Key == "used_memory_human").Value ?? "?";
    }
}
