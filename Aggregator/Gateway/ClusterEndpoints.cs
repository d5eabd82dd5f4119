using System.Globalization;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Prometheus;
using StackExchange.Redis;

namespace FlowMesh.Aggregator.Gateway;

internal static class ClusterEndpoints
{
    /// <summary>A member whose status is older than this is unhealthy (statuses are refreshed every second).</summary>
    private static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(5);

    /// <summary>The status fields that count something lost (Node and Aggregator names are distinct).</summary>
    private static readonly string[] DropFields =
        [.. NodeCounterTable.All.Concat(AggregatorCounterTable.All).Where(s => s.IsLoss).Select(s => s.Name)];

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/cluster", ClusterAsync).WithName("GetCluster").WithTags("cluster")
            .WithSummary("Members, their roles, health and counters (drops included), from Redis.").Produces<ClusterJson>();
        // The probes are never rate limited: a busy client must not fail its pod's probes.
        app.MapGet("/healthz", () => Results.Ok(new { status = "ok" })).WithName("Health").WithTags("cluster")
            .WithSummary("200 while the process serves requests.").DisableRateLimiting();
        app.MapGet("/readyz", ReadyAsync).WithName("Ready").WithTags("cluster")
            .WithSummary("200 when Redis answers and this Aggregator is a cluster member; 503 otherwise.").DisableRateLimiting();
        app.MapGet("/metrics", MetricsAsync).WithName("Metrics").WithTags("cluster")
            .WithSummary("FlowMesh's own metrics in the Prometheus text format.");
    }

    private static async Task<IResult> ClusterAsync(HttpRequest request, GatewayContext gateway)
    {
        var q = new QueryReader(request);
        if (q.Problem is { } problem)
            return problem;
        var members = new List<MemberJson>();
        var drops = DropFields.ToDictionary(f => f, _ => 0L, StringComparer.Ordinal);
        foreach (var m in gateway.Member.Provider.Registrations.Values.OrderBy(m => m.Role, StringComparer.Ordinal).ThenBy(m => m.HostId, StringComparer.Ordinal))
        {
            RedisKey? key = m.Role switch
            {
                ClusterKinds.NodeRole => gateway.Keys.NodeStatus(m.HostId),
                ClusterKinds.AggregatorRole => gateway.Keys.AggregatorStatus(m.MemberId),
                _ => null,
            };
            var counters = key is { } k ? await ReadCountersAsync(gateway.Db, k).ConfigureAwait(false) : new Dictionary<string, long>();
            long? updated = counters.TryGetValue("updated_unix_ms", out var u) ? u : null;
            var healthy = m.Role == ClusterKinds.ClientRole || (updated is { } t && gateway.NowUnixMs - t < StaleAfter.TotalMilliseconds);
            long memberDrops = 0;
            foreach (var field in DropFields)
            {
                var n = counters.GetValueOrDefault(field);
                memberDrops += n;
                drops[field] += n;
            }
            members.Add(new MemberJson(m.MemberId, m.Role, m.HostId, $"{m.Host}:{m.Port}", m.StartedUnixMs, healthy, updated, counters, memberDrops));
        }
        var totals = await LossTotals.ReadAsync(gateway.Db, gateway.Keys).ConfigureAwait(false);
        return Results.Ok(new ClusterJson(gateway.Keys.ClusterName, members, drops.Values.Sum(), drops, totals));
    }

    /// <summary>A member's status hash: its figures as it last published them.</summary>
    internal static async Task<Dictionary<string, long>> ReadCountersAsync(IDatabase db, RedisKey key)
    {
        var counters = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var field in await db.HashGetAllAsync(key).ConfigureAwait(false))
        {
            if (long.TryParse(field.Value.ToString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
                counters[field.Name!] = n;
        }
        return counters;
    }

    private static async Task<IResult> ReadyAsync(GatewayContext gateway)
    {
        try
        {
            await gateway.Db.PingAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            return Results.Problem(title: "Not ready", detail: $"Redis does not answer: {e.Message}", statusCode: StatusCodes.Status503ServiceUnavailable);
        }
        if (!gateway.Member.Provider.Registrations.ContainsKey(gateway.Member.System.Id))
            return Results.Problem(title: "Not ready", detail: "this Aggregator is not (or no longer) a cluster member", statusCode: StatusCodes.Status503ServiceUnavailable);
        return Results.Ok(new { status = "ready" });
    }

    private static async Task<IResult> MetricsAsync(GatewayContext gateway, CancellationToken cancel)
    {
        using var text = new MemoryStream();
        await gateway.Registry.CollectAndExportAsTextAsync(text, ExpositionFormat.PrometheusText, cancel).ConfigureAwait(false);
        return Results.Bytes(text.ToArray(), "text/plain; version=0.0.4; charset=utf-8");
    }
}
