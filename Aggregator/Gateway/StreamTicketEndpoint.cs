using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// <c>POST /api/stream/ticket</c>: a ticket that opens one <c>/api/stream</c> within
/// <c>Gateway:TicketSeconds</c>, on this gateway. It needs the bearer token like every
/// other call; the ticket then goes in the stream's URL instead of the token, since an
/// <c>EventSource</c> cannot send headers and a URL is logged along its way.
/// </summary>
internal static class StreamTicketEndpoint
{
    public static void Map(IEndpointRouteBuilder app) =>
        app.MapPost(GatewayAuth.StreamPath + "/ticket", Issue).WithName("StreamTicket").WithTags("stream")
            .WithSummary("A single-use ticket for GET /api/stream?ticket=..., valid Gateway:TicketSeconds (60 s), on this gateway process only.")
            .Produces<StreamTicketJson>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static IResult Issue(HttpContext http, GatewayContext gateway)
    {
        var q = new QueryReader(http.Request);
        if (q.Problem is { } problem)
            return problem;
        if (gateway.Tickets.Issue(out var retryAfter) is not { } issued)
        {
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return Results.Problem(title: "Too many stream tickets", statusCode: StatusCodes.Status503ServiceUnavailable,
                detail: "this gateway holds Gateway:MaxStreamTickets unexpired tickets already; try again when one expires, or raise the setting");
        }
        http.Response.Headers.CacheControl = "no-store"; // a credential, however short-lived
        return Results.Ok(new StreamTicketJson(issued.Ticket, issued.ExpiresUnixMs));
    }
}
