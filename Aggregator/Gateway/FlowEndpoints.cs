using System.Globalization;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Proto;
using StackExchange.Redis;

namespace FlowMesh.Aggregator.Gateway;

internal static class FlowEndpoints
{
    public static readonly string[] FilterParameters = ["host", "state", "port", "address", "process", "workload", "namespace", "unit", "pod"];
    private static readonly string[] ListParameters = [.. FilterParameters, "since", "until", "limit", "cursor"];

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/flows/{**id}", GetAsync).WithName("GetFlow").WithTags("flows")
            .WithSummary("One flow (one connection on one host) by id HOST/COOKIE: a live one from its Node, a passivated or closed one from Redis.")
            .Produces<FlowJson>().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status400BadRequest);
        app.MapGet("/api/flows", ListAsync).WithName("ListFlows").WithTags("flows")
            .WithSummary("Flows, live ones first (asked of each Node), then closed ones (from Redis), newest first; filtered by host, state, port, address, process, workload (name, namespace, unit, pod) and time.")
            .Produces<Page<FlowJson>>().ProducesProblem(StatusCodes.Status400BadRequest).Query(ListParameters);
    }

    /// <summary>A flow filter from the query (the parameters a list and a stream share).</summary>
    public static FlowFilter ReadFilter(QueryReader q)
    {
        var filter = new FlowFilter
        {
            HostId = q.String("host") ?? "",
            Port = q.Port("port") ?? 0,
            Address = q.Address("address") ?? "",
            Process = q.String("process", 64) ?? "",
            Workload = q.String("workload", 300) ?? "",
            Namespace = q.String("namespace", 253) ?? "",
            Unit = q.String("unit", 256) ?? "",
            Pod = q.String("pod", 320) ?? "",
        };
        if (q.String("state", 32) is { } state)
        {
            if (FlowFilters.IsKnownState(state))
                filter.State = state;
            else
                q.Reject("state", $"'{state}' is not open, closed or a TCP state such as ESTABLISHED");
        }
        return filter;
    }

    private static async Task<IResult> GetAsync(string id, HttpRequest request, GatewayContext gateway, CancellationToken ct)
    {
        var q = new QueryReader(request);
        if (q.Problem is { } problem)
            return problem;
        if (!ClusterKinds.TryParseFlowIdentity(id, out var host, out var cookie))
            return QueryReader.BadRequest("id", $"'{id}' is not a flow id: HOST/COOKIE, e.g. node-1/4097");
        FlowQueryResponse? response = null;
        if (gateway.Member.Provider.Registrations.Values.Any(m => m.Role == ClusterKinds.NodeRole && m.HostId == host))
        {
            response = await ClientQuery.AskAsync<FlowQueryResponse>(gateway.Member, gateway.RequestTimeout, ClusterKinds.FlowIdentity(host, cookie), ClusterKinds.Flow,
                new FlowQuery(), ct).ConfigureAwait(false);
        }
        if (response is { Found: true, Flow: { } live })
            return Results.Ok(FlowJson.From(live, live: !live.Closed));
        // The host's Node is gone or did not answer: Redis keeps closed flows and passivated open ones.
        var stored = await StoredFlows.ReadAsync(gateway.Db, gateway.Keys, host, cookie).ConfigureAwait(false);
        return stored is not null
            ? Results.Ok(FlowJson.From(stored, live: false))
            : Results.Problem(title: "Flow not found", detail: $"no flow {host}/{cookie} (no such connection on that host, or its record expired)", statusCode: StatusCodes.Status404NotFound);
    }

    private static async Task<IResult> ListAsync(HttpRequest request, GatewayContext gateway)
    {
        var q = new QueryReader(request, ListParameters);
        var filter = ReadFilter(q);
        filter.SinceUnixMs = q.Time("since") ?? 0;
        filter.UntilUnixMs = q.Time("until") ?? 0;
        var limit = q.Int("limit", 100, 1, 1000);
        var cursorText = q.String("cursor", 1000);
        if (q.Problem is { } problem)
            return problem;

        // A cursor is "l{n}" while live flows are paged (n of them already given), or a
        // closed-flow cursor after them.
        var liveOffset = 0;
        Cursor? closedAfter = null;
        var inLive = true;
        if (cursorText is not null)
        {
            if (cursorText.StartsWith('l') && int.TryParse(cursorText.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                liveOffset = n;
            }
            else if (Cursor.TryDecode(cursorText, out var c))
            {
                closedAfter = c;
                inLive = false;
            }
            else
            {
                return QueryReader.BadRequest("cursor", QueryReader.NotACursor);
            }
        }

        var items = new List<FlowJson>(limit);
        var wantsLive = filter.State != "closed";
        var wantsClosed = FlowFilters.CanMatchClosed(filter.State);
        if (inLive && wantsLive)
        {
            var (live, more) = await ListLiveAsync(gateway, filter, liveOffset + limit).ConfigureAwait(false);
            items.AddRange(live.Skip(liveOffset).Select(f => FlowJson.From(f, live: true)));
            if (more)
                return Results.Ok(new Page<FlowJson>(items, "l" + (liveOffset + limit).ToString(CultureInfo.InvariantCulture)));
        }
        if (!wantsClosed || items.Count == limit)
        {
            // The page is full of live flows: the next one starts at the newest closed flow.
            return Results.Ok(new Page<FlowJson>(items, wantsClosed ? new Cursor(long.MaxValue, "~").Encode() : null));
        }

        var (closed, next) = await gateway.Pager.ReadAsync(gateway.Keys.ClosedFlowIndex, IdentityKey(gateway), FlowView.Parser.ParseFrom, filter.Matches,
            limit - items.Count, closedAfter, filter.SinceUnixMs, long.MaxValue).ConfigureAwait(false);
        items.AddRange(closed.Select(f => FlowJson.From(f, live: false)));
        return Results.Ok(new Page<FlowJson>(items, next?.Encode()));
    }

    private static Func<string, RedisKey> IdentityKey(GatewayContext gateway) => identity =>
        ClusterKinds.TryParseFlowIdentity(identity, out var host, out var cookie) ? gateway.Keys.ClosedFlow(host, cookie) : (RedisKey)identity;

    /// <summary>Asks every Node (or the one of the host asked for) for its live flows; newest first.</summary>
    private static async Task<(List<FlowView> Flows, bool More)> ListLiveAsync(GatewayContext gateway, FlowFilter filter, int limit)
    {
        var nodes = gateway.Member.Provider.Registrations.Values
            .Where(m => m.Role == ClusterKinds.NodeRole && (filter.HostId.Length == 0 || m.HostId == filter.HostId))
            .ToList();
        var request = new ListFlowsRequest { Filter = filter, Limit = limit };
        var asks = nodes.Select(async m =>
        {
            try
            {
                return await gateway.Member.System.Root.RequestAsync<ListFlowsResponse>(PID.FromAddress($"{m.Host}:{m.Port}", ClusterKinds.NodeControlActor), request,
                    CancellationTokens.WithTimeout(gateway.RequestTimeout)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException or DeadLetterException)
            {
                return new ListFlowsResponse(); // a Node that does not answer lists nothing; /api/cluster shows its health
            }
        }).ToList();
        var responses = await Task.WhenAll(asks).ConfigureAwait(false);
        var all = responses.SelectMany(r => r.Flows).OrderByDescending(FlowFilters.StartUnixMs).ThenBy(f => f.Cookie).ToList();
        var more = all.Count > limit || responses.Any(r => r.Truncated);
        return (all.Take(limit).ToList(), more);
    }
}
