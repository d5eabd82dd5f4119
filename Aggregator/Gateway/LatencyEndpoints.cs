using FlowMesh.Aggregator.Latency;
using FlowMesh.Aggregator.Sessions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using StackExchange.Redis;

namespace FlowMesh.Aggregator.Gateway;

internal static class LatencyEndpoints
{
    private static readonly string[] SeriesParameters = ["edge", "host", "metric", "window", "from", "to"];
    private static readonly string[] WindowParameters = ["window", "from", "to"];
    private static readonly string[] EdgeParameters = [.. WindowParameters, .. EdgeFilter.Parameters, "limit", "cursor"];

    /// <summary>Heatmap bins: four per decade from 10 us to 100 s, trimmed to the range that has data.</summary>
    private static readonly double[] BinUpperMs = [.. Enumerable.Range(0, 29).Select(i => Math.Round(0.01 * Math.Pow(10, i / 4.0), 4))];

    private const int MaxColumns = 60;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/latency", LatencyAsync).WithName("GetLatency").WithTags("latency")
            .WithSummary("P50/P90/P99/P999 of connect latency, duration or RTT for one edge, one host or the whole cluster, merged over every member.")
            .Produces<LatencyJson>().ProducesProblem(StatusCodes.Status400BadRequest).Query(SeriesParameters);
        app.MapGet("/api/heatmap", HeatmapAsync).WithName("GetHeatmap").WithTags("latency")
            .WithSummary("Counts per time column and latency bin for one edge, one host or the whole cluster.")
            .Produces<HeatmapJson>().ProducesProblem(StatusCodes.Status400BadRequest).Query(SeriesParameters);
        app.MapGet("/api/edges", EdgesAsync).WithName("ListEdges").WithTags("latency")
            .WithSummary("The service map: edges (client workload -> server workload:port, or address:port) in name order with sessions, errors, connect P99 and trace tag survival; "
                + "a page at a time (limit, cursor), the next page's URL in the Link header, the number of edges in X-Total-Count.")
            .Produces<IReadOnlyList<EdgeJson>>().ProducesProblem(StatusCodes.Status400BadRequest).Query(EdgeParameters);
    }

    private readonly record struct Series(string? Edge, string? Host, string Scope, LatencyMetric Metric, TimeWindow Window);

    private static Series? ReadSeries(QueryReader q, GatewayContext gateway, TimeSpan defaultWindow)
    {
        var edge = q.String("edge", 600);
        var host = q.String("host");
        if (edge is not null && host is not null)
            q.Reject("host", "give edge or host, not both");
        if (edge is not null && !edge.Contains('>', StringComparison.Ordinal))
            q.Reject("edge", $"'{edge}' is not an edge: CLIENT>SERVER:PORT as listed by /api/edges");
        var metricText = q.OneOf("metric", "connect", "duration", "rtt") ?? "connect";
        var window = q.Window(defaultWindow, gateway.Retention, gateway.NowUnixMs);
        if (q.Problem is not null)
            return null;
        if (!LatencyScopes.TryParse(metricText, out var metric))
            metric = LatencyMetric.Connect;
        var scope = edge is not null ? LatencyScopes.Edge(edge) : host is not null ? LatencyScopes.Host(host) : LatencyScopes.All;
        return new Series(edge, host, scope, metric, window);
    }

    private static async Task<IResult> LatencyAsync(HttpRequest request, GatewayContext gateway)
    {
        var q = new QueryReader(request, SeriesParameters);
        if (ReadSeries(q, gateway, TimeSpan.FromMinutes(5)) is not { } s)
            return q.Problem!;
        var sketch = await gateway.Latency.ReadAsync(s.Scope, s.Metric, s.Window).ConfigureAwait(false);
        double? Ms(double micros) => sketch.IsEmpty ? null : Math.Round(micros / 1000, 4);
        return Results.Ok(new LatencyJson(s.Edge, s.Host, s.Metric.Name(), s.Window.Name, s.Window.FromUnixMs, s.Window.ToUnixMs, sketch.Count,
            Ms(sketch.Quantile(0.5)), Ms(sketch.Quantile(0.9)), Ms(sketch.Quantile(0.99)), Ms(sketch.Quantile(0.999)),
            Ms(sketch.Min), Ms(sketch.Max), sketch.IsEmpty ? null : Ms(sketch.Sum / sketch.Count)));
    }

    private static async Task<IResult> HeatmapAsync(HttpRequest request, GatewayContext gateway)
    {
        var q = new QueryReader(request, SeriesParameters);
        if (ReadSeries(q, gateway, TimeSpan.FromMinutes(15)) is not { } s)
            return q.Problem!;
        var series = await gateway.Latency.ReadSeriesAsync(s.Scope, s.Metric, s.Window).ConfigureAwait(false);
        // Columns of whole 10 s buckets, at most 60 of them.
        var bucketMs = LatencyRecorder.BucketSeconds * 1000L;
        var first = LatencyRecorder.BucketOf(s.Window.FromUnixMs) * 1000;
        var buckets = (int)((s.Window.ToUnixMs - first + bucketMs - 1) / bucketMs);
        var perColumn = Math.Max(1, (buckets + MaxColumns - 1) / MaxColumns);
        var columns = (buckets + perColumn - 1) / perColumn;
        var counts = new long[columns, BinUpperMs.Length];
        long total = 0;
        foreach (var (bucketSeconds, sketch) in series)
        {
            var column = (int)((bucketSeconds * 1000 - first) / bucketMs) / perColumn;
            if ((uint)column >= (uint)columns)
                continue;
            foreach (var (upperMicros, count) in sketch.Buckets())
            {
                var bin = Array.FindIndex(BinUpperMs, b => upperMicros / 1000 <= b);
                counts[column, bin < 0 ? BinUpperMs.Length - 1 : bin] += count;
                total += count;
            }
        }
        // Trim the bins to the range that has data (all of them when there is none).
        int lo = BinUpperMs.Length, hi = -1;
        for (var c = 0; c < columns; c++)
        {
            for (var b = 0; b < BinUpperMs.Length; b++)
            {
                if (counts[c, b] > 0)
                {
                    lo = Math.Min(lo, b);
                    hi = Math.Max(hi, b);
                }
            }
        }
        if (hi < 0)
            (lo, hi) = (0, BinUpperMs.Length - 1);
        var times = new List<long>(columns);
        var rows = new List<IReadOnlyList<long>>(columns);
        for (var c = 0; c < columns; c++)
        {
            times.Add(first + c * perColumn * bucketMs);
            var row = new long[hi - lo + 1];
            for (var b = lo; b <= hi; b++)
                row[b - lo] = counts[c, b];
            rows.Add(row);
        }
        return Results.Ok(new HeatmapJson(s.Edge, s.Host, s.Metric.Name(), s.Window.Name, s.Window.FromUnixMs, s.Window.ToUnixMs,
            perColumn * LatencyRecorder.BucketSeconds, times, BinUpperMs[lo..(hi + 1)], rows, total));
    }

    private static async Task<IResult> EdgesAsync(HttpRequest request, GatewayContext gateway)
    {
        var q = new QueryReader(request, EdgeParameters);
        var window = q.Window(TimeSpan.FromMinutes(15), gateway.Retention, gateway.NowUnixMs);
        var limit = q.Int("limit", 100, 1, 1000);
        var cursor = q.String("cursor", 600);
        var filter = EdgeFilter.Read(q);
        if (q.Problem is { } problem)
            return problem;
        // Each edge costs one read per 10 s bucket of the window: a long window gets fewer edges
        // a page, so no request asks more than Gateway:MaxReadsPerRequest of Redis.
        var buckets = (int)Math.Max(1, (window.ToUnixMs - window.FromUnixMs) / (LatencyRecorder.BucketSeconds * 1000L) + 1);
        limit = Math.Clamp(gateway.MaxReadsPerRequest / (buckets + 1), 1, limit);
        var (edges, total, more) = await EdgeCounters.ReadAsync(gateway.Db, gateway.Keys, cursor, limit, filter.IsEmpty ? null : filter.Matches).ConfigureAwait(false);
        request.HttpContext.Response.Headers["X-Total-Count"] = total.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (more)
        {
            var next = Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString(request.Path,
                request.Query.Where(p => p.Key != "cursor").SelectMany(p => p.Value.Select(v => new KeyValuePair<string, string?>(p.Key, v)))
                    .Append(new("cursor", edges[^1].Edge)));
            request.HttpContext.Response.Headers.Link = $"<{next}>; rel=\"next\"";
        }
        var p99s = await Task.WhenAll(edges.Select(e => gateway.Latency.ReadAsync(LatencyScopes.Edge(e.Edge), LatencyMetric.Connect, window))).ConfigureAwait(false);
        // Listen drops are kept per listening address: the server address the edge's sessions dialled.
        var servers = edges.Select(e => (RedisValue)(e.Endpoint ?? Edges.Split(e.Edge)!.Value.Server)).ToArray();
        var listenDrops = servers.Length == 0 ? [] : await gateway.Db.HashGetAsync(gateway.Keys.ListenDrops, servers).ConfigureAwait(false);
        var result = new List<EdgeJson>(edges.Count);
        for (var i = 0; i < edges.Count; i++)
        {
            var (edge, counts, endpoint) = edges[i];
            var (client, server) = Edges.Split(edge)!.Value;
            var sent = counts["sent"];
            result.Add(new EdgeJson(edge, client, server, counts["sessions"], counts["errors"],
                p99s[i].IsEmpty ? null : Math.Round(p99s[i].Quantile(0.99) / 1000, 4),
                new TagSurvivalJson(sent, counts["survived"], counts["stripped_on_path"], counts["echo_stripped"], counts["peer_not_instrumented"], counts["no_handshake"],
                    sent == 0 ? null : Math.Round((double)counts["survived"] / sent, 4)),
                listenDrops[i].TryParse(out long drops) ? drops : 0, endpoint));
        }
        return Results.Ok(result);
    }
}
