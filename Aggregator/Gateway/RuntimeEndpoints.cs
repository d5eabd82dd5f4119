using FlowMesh.Aggregator.Latency;
using FlowMesh.Contracts.Latency;
using FlowMesh.Contracts.Messages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// /api/runtime: the processes Nodes watch, and one process's runtime series (run queue, Go
/// scheduling, GC pauses) bucket by bucket beside the latency of an edge it serves, so "is
/// it the network or the server's process?" is answered from one response.
/// </summary>
internal static class RuntimeEndpoints
{
    private static readonly string[] Parameters = ["process", "edge", "window", "from", "to"];

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/runtime", RuntimeAsync).WithName("GetRuntime").WithTags("runtime")
            .WithSummary("Without process or edge: the processes the Nodes watch. With process=HOST/NAME (or edge=, whose server process is found from its "
                + "latest session): that process's run-queue delay, Go scheduling delay and GC pauses per 10 s bucket beside the edge's latency, and their correlation.")
            .Produces<RuntimeSeriesJson>().Produces<IReadOnlyList<ProcessRuntimeJson>>().ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound).Query(Parameters);
    }

    private static async Task<IResult> RuntimeAsync(HttpRequest request, GatewayContext gateway)
    {
        var q = new QueryReader(request, Parameters);
        var process = q.String("process", 300);
        var edge = q.String("edge", 600);
        var window = q.Window(TimeSpan.FromMinutes(15), gateway.Retention, gateway.NowUnixMs);
        if (process is not null && (process.IndexOf('/', StringComparison.Ordinal) is var slash && (slash <= 0 || slash == process.Length - 1)))
            q.Reject("process", $"'{process}' is not a process: HOST/NAME as listed by /api/runtime");
        if (edge is not null && !edge.Contains('>', StringComparison.Ordinal))
            q.Reject("edge", $"'{edge}' is not an edge: CLIENT>ADDRESS:PORT as listed by /api/edges");
        if (q.Problem is { } problem)
            return problem;

        var processes = await ProcessesAsync(gateway).ConfigureAwait(false);
        if (process is null && edge is null)
            return Results.Ok(processes);
        if (process is null)
        {
            process = await ServerProcessOfAsync(gateway, edge!, window).ConfigureAwait(false);
            if (process is null)
                return Results.Problem(title: "No session on that edge", detail: $"no session of '{edge}' in the window names its server process", statusCode: StatusCodes.Status404NotFound);
        }
        var separator = process.IndexOf('/', StringComparison.Ordinal);
        var scope = RuntimeSeries.Process(process[..separator], process[(separator + 1)..]);
        var runQueue = await gateway.Latency.ReadSeriesAsync(scope, LatencyMetric.RunQueue, window).ConfigureAwait(false);
        var goSchedule = await gateway.Latency.ReadSeriesAsync(scope, LatencyMetric.GoSchedule, window).ConfigureAwait(false);
        var gcPauses = await gateway.Latency.ReadSeriesAsync(scope, LatencyMetric.GcPause, window).ConfigureAwait(false);
        IReadOnlyList<(long, LatencySketch)> durations = [], connects = [];
        if (edge is not null)
        {
            durations = await gateway.Latency.ReadSeriesAsync(LatencyScopes.Edge(edge), LatencyMetric.Duration, window).ConfigureAwait(false);
            connects = await gateway.Latency.ReadSeriesAsync(LatencyScopes.Edge(edge), LatencyMetric.Connect, window).ConfigureAwait(false);
        }
        var buckets = Buckets(runQueue, goSchedule, gcPauses, durations, connects);
        return Results.Ok(new RuntimeSeriesJson(process, edge, window.Name, window.FromUnixMs, window.ToUnixMs,
            [.. processes.Where(p => p.Process == process)], buckets,
            Correlation(buckets, b => b.EdgeDurationP99Ms), Correlation(buckets, b => b.EdgeConnectP99Ms)));
    }

    private static List<RuntimeBucketJson> Buckets(params IReadOnlyList<(long Bucket, LatencySketch Sketch)>[] series)
    {
        var byBucket = new SortedDictionary<long, LatencySketch?[]>();
        for (var i = 0; i < series.Length; i++)
        {
            foreach (var (bucket, sketch) in series[i])
            {
                if (!byBucket.TryGetValue(bucket, out var row))
                    byBucket[bucket] = row = new LatencySketch?[series.Length];
                row[i] = sketch;
            }
        }
        static double? Ms(LatencySketch? s, double q) => s is null || s.IsEmpty ? null : Math.Round(s.Quantile(q) / 1000, 4);
        var result = new List<RuntimeBucketJson>(byBucket.Count);
        foreach (var (bucket, row) in byBucket)
        {
            var (runQueue, goSchedule, gc, duration, connect) = (row[0], row[1], row[2], row[3], row[4]);
            result.Add(new RuntimeBucketJson(bucket * 1000,
                Ms(runQueue, 0.5), Ms(runQueue, 0.99), runQueue?.Count ?? 0, Ms(goSchedule, 0.99), goSchedule?.Count ?? 0,
                gc?.Count ?? 0, gc is null ? 0 : Math.Round(gc.Sum / 1000, 3), Ms(duration, 0.99), Ms(connect, 0.99), duration?.Count ?? 0));
        }
        return result;
    }

    /// <summary>Pearson's r between the run queue's P99 and an edge P99 over the buckets that have both.</summary>
    private static double? Correlation(List<RuntimeBucketJson> buckets, Func<RuntimeBucketJson, double?> edge)
    {
        var pairs = buckets.Where(b => b.RunQueueP99Ms is not null && edge(b) is not null).Select(b => (X: b.RunQueueP99Ms!.Value, Y: edge(b)!.Value)).ToList();
        if (pairs.Count < 3)
            return null;
        double mx = pairs.Average(p => p.X), my = pairs.Average(p => p.Y);
        double sxy = 0, sxx = 0, syy = 0;
        foreach (var (x, y) in pairs)
        {
            sxy += (x - mx) * (y - my);
            sxx += (x - mx) * (x - mx);
            syy += (y - my) * (y - my);
        }
        return sxx == 0 || syy == 0 ? null : Math.Round(sxy / Math.Sqrt(sxx * syy), 3);
    }

    private static async Task<List<ProcessRuntimeJson>> ProcessesAsync(GatewayContext gateway)
    {
        var result = new List<ProcessRuntimeJson>();
        foreach (var host in await gateway.Db.SetMembersAsync(gateway.Keys.RuntimeHosts).ConfigureAwait(false))
        {
            foreach (var entry in await gateway.Db.HashGetAllAsync(gateway.Keys.RuntimeProcesses(host!)).ConfigureAwait(false))
            {
                try
                {
                    result.Add(ProcessRuntimeJson.From(ProcessRuntimeView.Parser.ParseFrom((byte[])entry.Value!)));
                }
                catch (Google.Protobuf.InvalidProtocolBufferException)
                {
                    // a newer writer's entry: left out of the list
                }
            }
        }
        result.Sort((a, b) => string.CompareOrdinal(a.Process, b.Process) is var c && c != 0 ? c : a.Pid.CompareTo(b.Pid));
        return result;
    }

    private static async Task<string?> ServerProcessOfAsync(GatewayContext gateway, string edge, Latency.TimeWindow window)
    {
        var filter = new SessionFilter(edge, null, null, null, null, null, null, window.FromUnixMs, null);
        var (items, _) = await gateway.Pager.ReadAsync(gateway.Keys.SessionIndex, id => gateway.Keys.Session(id), SessionView.Parser.ParseFrom,
            s => filter.Matches(s) && s.Server is { Comm.Length: > 0 }, 1, null, window.FromUnixMs, long.MaxValue).ConfigureAwait(false);
        return items.Count == 0 ? null : items[0].Server.HostId + "/" + items[0].Server.Comm;
    }
}
