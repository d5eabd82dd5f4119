using FlowMesh.Aggregator.Anomalies;
using FlowMesh.Contracts.Messages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace FlowMesh.Aggregator.Gateway;

internal static class AnomalyEndpoints
{
    private static readonly string[] ListParameters = [.. AnomalyFilter.Parameters, "since", "until", "limit", "cursor"];

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/anomalies", ListAsync).WithName("ListAnomalies").WithTags("anomalies")
            .WithSummary("Anomalies, newest first: sessions, or 10 s buckets of an edge, beyond their edge's baseline; filtered by edge, host, metric, kind (anomalyKind=session|bucket) and time.")
            .Produces<Page<AnomalyJson>>().ProducesProblem(StatusCodes.Status400BadRequest).Query(ListParameters);
        app.MapGet("/api/anomalies/clusters", ClustersAsync).WithName("AnomalyClusters").WithTags("anomalies")
            .WithSummary("The latest clusters of recent anomalous sessions (DBSCAN), largest first, each with what its members share.")
            .Produces<AnomalyClustersJson>();
    }

    private static async Task<IResult> ListAsync(HttpRequest request, GatewayContext gateway)
    {
        var q = new QueryReader(request, ListParameters);
        var filter = AnomalyFilter.Read(q) with { Since = q.Time("since"), Until = q.Time("until") };
        var limit = q.Int("limit", 100, 1, 1000);
        var after = q.PageCursor();
        if (q.Problem is { } problem)
            return problem;
        var (items, next) = await gateway.Pager.ReadAsync(gateway.Keys.AnomalyIndex, id => gateway.Keys.Anomaly(id), AnomalyView.Parser.ParseFrom, filter.Matches,
            limit, after, filter.Since ?? 0, filter.Until ?? long.MaxValue).ConfigureAwait(false);
        return Results.Ok(new Page<AnomalyJson>([.. items.Select(AnomalyJson.From)], next?.Encode()));
    }

    private static async Task<IResult> ClustersAsync(HttpRequest request, GatewayContext gateway)
    {
        var q = new QueryReader(request);
        if (q.Problem is { } problem)
            return problem;
        return Results.Ok(AnomalyClustersJson.From(await AnomalyStore.LoadClustersAsync(gateway.Member.Redis, gateway.Keys).ConfigureAwait(false)));
    }
}
