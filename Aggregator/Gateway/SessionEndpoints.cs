using FlowMesh.Aggregator.Sessions;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace FlowMesh.Aggregator.Gateway;

internal static class SessionEndpoints
{
    private static readonly string[] ListParameters = [.. SessionFilter.Parameters, "since", "until", "limit", "cursor"];

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/sessions/{**id}", GetAsync).WithName("GetSession").WithTags("sessions")
            .WithSummary("One session by id: joined (or one-sided) from the flows of both ends.")
            .Produces<SessionJson>().ProducesProblem(StatusCodes.Status404NotFound);
        app.MapGet("/api/sessions", ListAsync).WithName("ListSessions").WithTags("sessions")
            .WithSummary("Sessions, newest first, filtered by edge, join method, reset, minimum duration, completeness, open or closed, host and time.")
            .Produces<Page<SessionJson>>().ProducesProblem(StatusCodes.Status400BadRequest).Query(ListParameters);
    }

    private static async Task<IResult> GetAsync(string id, HttpRequest request, GatewayContext gateway, CancellationToken ct)
    {
        var q = new QueryReader(request);
        if (q.Problem is { } problem)
            return problem;
        if (id.Length is 0 or > 200)
            return QueryReader.BadRequest("id", "a session id is 1 to 200 characters, as listed by /api/sessions");
        // The session's actor answers, from memory while it is open or lingering, from Redis after.
        var response = await ClientQuery.AskAsync<SessionQueryResponse>(gateway.Member, gateway.RequestTimeout, id, ClusterKinds.Session, new SessionQuery(), ct)
            .ConfigureAwait(false);
        if (response is null)
        {
            var stored = await SessionStore.LoadAsync(gateway.Member.Redis, gateway.Keys, id).ConfigureAwait(false);
            response = stored is null ? null : new SessionQueryResponse { Found = true, Session = stored };
        }
        return response is { Found: true, Session: { } session }
            ? Results.Ok(SessionJson.From(session))
            : Results.Problem(title: "Session not found", detail: $"no session '{id}' (never seen, or older than the retention)", statusCode: StatusCodes.Status404NotFound);
    }

    private static async Task<IResult> ListAsync(HttpRequest request, GatewayContext gateway)
    {
        var q = new QueryReader(request, ListParameters);
        var filter = SessionFilter.Read(q) with { Since = q.Time("since"), Until = q.Time("until") };
        var limit = q.Int("limit", 100, 1, 1000);
        var after = q.PageCursor();
        if (q.Problem is { } problem)
            return problem;
        var (items, next) = await gateway.Pager.ReadAsync(gateway.Keys.SessionIndex, id => gateway.Keys.Session(id), SessionView.Parser.ParseFrom, filter.Matches,
            limit, after, filter.Since ?? 0, long.MaxValue).ConfigureAwait(false);
        return Results.Ok(new Page<SessionJson>([.. items.Select(SessionJson.From)], next?.Encode()));
    }
}
