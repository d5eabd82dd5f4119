using System.Globalization;
using System.Text;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using StackExchange.Redis;

namespace FlowMesh.Aggregator.Gateway;

internal static class ClusterEndpoints
{
    /// <summary>A member whose status is older than this is unhealthy (statuses are refreshed every second).</summary>
    private static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(5);

    /// <summary>The status fields that count events lost: each one a place where something could not be delivered.</summary>
    private static readonly string[] DropFields =
    [
        "kernel_drops", "kernel_storage_failures", "decode_errors", "undeliverable", "session_undelivered", "flows_shed", // Node
        "not_stored", "flows_unrecorded", "stream_dropped", "sessions_shed", "flows_over_session_cap", "moved_undelivered", // Aggregator
    ];

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/cluster", ClusterAsync).WithName("GetCluster").WithTags("cluster")
            .WithSummary("Members, their roles, health and counters (drops included), from Redis.").Produces<ClusterJson>();
        app.MapGet("/healthz", () => Results.Ok(new { status = "ok" })).WithName("Health").WithTags("cluster")
            .WithSummary("200 while the process serves requests.");
        app.MapGet("/readyz", ReadyAsync).WithName("Ready").WithTags("cluster")
            .WithSummary("200 when Redis answers and this Aggregator is a cluster member; 503 otherwise.");
        app.MapGet("/metrics", MetricsAsync).WithName("Metrics").WithTags("cluster")
            .WithSummary("FlowMesh's own metrics in the Prometheus text format.");
    }

    private static async Task<IResult> ClusterAsync(HttpRequest request, GatewayContext gateway)
    {
        var q = new QueryReader(request);
        if (q.Problem is { } problem)
            return problem;
        var members = new List<MemberJson>();
        long totalDrops = 0;
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
            long drops = 0;
            foreach (var field in DropFields)
                drops += counters.GetValueOrDefault(field);
            totalDrops += drops;
            members.Add(new MemberJson(m.MemberId, m.Role, m.HostId, $"{m.Host}:{m.Port}", m.StartedUnixMs, healthy, updated, counters, drops));
        }
        return Results.Ok(new ClusterJson(gateway.Keys.ClusterName, members, totalDrops));
    }

    private static async Task<Dictionary<string, long>> ReadCountersAsync(IDatabase db, RedisKey key)
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

    private static async Task<IResult> MetricsAsync(GatewayContext gateway)
    {
        var text = new StringBuilder(8192);
        var member = $"member=\"{PrometheusText.Escape(gateway.Member.System.Id)}\"";
        var c = gateway.Counters;
        void Counter(string name, string help, double value) =>
            PrometheusText.Metric(text, "flowmesh_aggregator_" + name, "counter", help, [(member, value)]);
        Counter("flows_received_total", "Flows handed over by Nodes.", c.FlowsReceived);
        PrometheusText.Metric(text, "flowmesh_aggregator_sessions_total", "counter", "Sessions settled, by join method.",
        [
            (member + ",join=\"tag\"", c.SessionsTag), (member + ",join=\"isn\"", c.SessionsIsn),
            (member + ",join=\"tuple\"", c.SessionsTuple), (member + ",join=\"one-sided\"", c.SessionsOneSided),
        ]);
        PrometheusText.Metric(text, "flowmesh_aggregator_sessions_active", "gauge", "Sessions in memory.", [(member, c.ActiveSessions)]);
        Counter("late_joins_total", "Sides that arrived after their session had settled one-sided.", c.LateJoins);
        Counter("sessions_incomplete_total", "Sessions whose hosts lost kernel events while they lived.", c.Incomplete);
        Counter("sessions_not_stored_total", "Sessions Redis could not take.", c.NotStored);
        Counter("flows_unrecorded_total", "Closed flows whose record Redis could not take.", c.FlowsUnrecorded);
        Counter("sessions_shed_total", "New sessions not held: the Aggregator held Sessions:MaxInMemory already.", c.SessionsShed);
        Counter("flows_over_session_cap_total", "Flows left out of a session that held Sessions:MaxFlowsPerSession already.", c.FlowsOverSessionCap);
        Counter("sessions_host_lost_total", "Sessions with an open side on a host whose Node left the cluster.", c.SessionsHostLost);
        Counter("flows_resent_total", "Closed flows Nodes sent again (their first Aggregator died, left, or never confirmed them stored).", c.ResentFlows);
        Counter("flows_resent_already_stored_total", "Resent flows whose session was already stored complete.", c.ResentKnown);
        Counter("flows_undeliverable_total", "Flows that reached no session shard.", c.UndeliverableFlows);
        Counter("dead_letters_total", "Dead letters in the Aggregator's actor system.", c.DeadLetters);
        Counter("sessions_exported_total", "Sessions exported over OTLP.", c.Exported);
        Counter("redis_failures_total", "Redis commands that failed.", gateway.Member.Redis.Failures);
        Counter("latency_values_total", "Values added to latency sketches.", gateway.Recorder.Values);
        Counter("latency_sketches_malformed_total", "Stored latency sketches that could not be read.", gateway.Latency.Malformed);
        Counter("records_malformed_total", "Stored flows or sessions that could not be read.", gateway.Pager.Malformed);
        Counter("stream_events_published_total", "Live events published for streams.", gateway.Publisher.Published);
        Counter("stream_events_dropped_total", "Live events lost: publisher queue full, publish failed, or a stream client too slow.", gateway.Publisher.Dropped + gateway.Live.Dropped);
        Counter("stream_batches_malformed_total", "Live event batches from Redis that could not be read.", gateway.Live.Malformed);
        PrometheusText.Metric(text, "flowmesh_gateway_stream_clients", "gauge", "Clients of /api/stream on this gateway.", [(member, gateway.Live.Clients)]);

        // Every Node's counters as the Nodes last published them: the cluster's drops in one scrape.
        var nodeSamples = new SortedDictionary<string, List<(string, double)>>(StringComparer.Ordinal);
        foreach (var m in gateway.Member.Provider.Registrations.Values.Where(m => m.Role == ClusterKinds.NodeRole).OrderBy(m => m.HostId, StringComparer.Ordinal))
        {
            var labels = $"host=\"{PrometheusText.Escape(m.HostId)}\"";
            foreach (var (field, value) in await ReadCountersAsync(gateway.Db, gateway.Keys.NodeStatus(m.HostId)).ConfigureAwait(false))
            {
                if (field is "updated_unix_ms" or "uptime_ms")
                    continue;
                if (!nodeSamples.TryGetValue(field, out var list))
                    nodeSamples[field] = list = [];
                list.Add((labels, value));
            }
        }
        foreach (var (field, samples) in nodeSamples)
        {
            var gauge = field == "flows_active";
            PrometheusText.Metric(text, "flowmesh_node_" + field + (gauge ? "" : "_total"), gauge ? "gauge" : "counter", $"Node status field {field}.", samples);
        }
        gateway.Metrics.WriteTo(text);
        return Results.Text(text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
    }
}
