using System.Text.Json;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// <c>GET /api/stream</c>: server-sent events, <c>event: flow</c> for each flow an
/// Aggregator receives (a connection closed, or a long-lived one reported) and
/// <c>event: session</c> for each session settled, and <c>event: anomaly</c> for each
/// anomaly found, with the lists' filters.
/// </summary>
internal static class StreamEndpoint
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);
    // The ticket is checked (and used) by GatewayAuth before this handler runs; a gateway without a token ignores it.
    private static readonly string[] Parameters =
        ["kind", .. FlowEndpoints.FilterParameters.Union(SessionFilter.Parameters).Union(AnomalyFilter.Parameters), GatewayAuth.TicketParameter];

    public static void Map(IEndpointRouteBuilder app) =>
        app.MapGet(GatewayAuth.StreamPath, StreamAsync).WithName("Stream").WithTags("stream")
            .WithSummary("Server-sent events of flows, sessions and anomalies as they happen (kind=flow|session|anomaly|all), filtered like /api/flows, /api/sessions and /api/anomalies; with a token, 'Authorization: Bearer' or a ticket from POST /api/stream/ticket.")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream").ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status503ServiceUnavailable).Query(Parameters);

    private static async Task<IResult> StreamAsync(HttpContext http, GatewayContext gateway, IOptions<JsonOptions> json, IHostApplicationLifetime lifetime)
    {
        var q = new QueryReader(http.Request, Parameters);
        var kind = q.OneOf("kind", "flow", "session", "anomaly", "all") ?? "all";
        var flows = FlowEndpoints.ReadFilter(q);
        var sessions = SessionFilter.Read(q);
        var anomalies = AnomalyFilter.Read(q);
        if (q.Problem is { } problem)
            return problem;

        var events = await gateway.Live.JoinAsync().ConfigureAwait(false);
        if (events is null)
        {
            http.Response.Headers.RetryAfter = "10";
            return Results.Problem(title: "Too many streams", statusCode: StatusCodes.Status503ServiceUnavailable,
                detail: "this gateway serves Gateway:MaxStreamClients streams already; try again later, or raise the setting");
        }
        var response = http.Response;
        response.Headers.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // proxies must not hold events back
        // A stream never ends by itself: it ends when the client leaves or the gateway stops
        // (without the latter, stopping would wait out the host's whole shutdown timeout).
        using var streaming = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        var ct = streaming.Token;
        try
        {
            await response.WriteAsync("retry: 2000\n: connected\n\n", ct).ConfigureAwait(false);
            await response.Body.FlushAsync(ct).ConfigureAwait(false);
            var options = json.Value.SerializerOptions;
            while (!ct.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                wait.CancelAfter(KeepAlive);
                bool any;
                try
                {
                    any = await events.WaitToReadAsync(wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    await response.WriteAsync(": keep-alive\n\n", ct).ConfigureAwait(false);
                    await response.Body.FlushAsync(ct).ConfigureAwait(false);
                    continue;
                }
                if (!any)
                    break;
                while (events.TryRead(out var e))
                {
                    var line = e.EventCase switch
                    {
                        LiveEvent.EventOneofCase.Flow when kind is "flow" or "all" && flows.Matches(e.Flow) =>
                            "event: flow\ndata: " + JsonSerializer.Serialize(FlowJson.From(e.Flow, live: !e.Flow.Closed), options) + "\n\n",
                        LiveEvent.EventOneofCase.Session when kind is "session" or "all" && sessions.Matches(e.Session) =>
                            $"event: session\nid: {e.Session.Id}\ndata: " + JsonSerializer.Serialize(SessionJson.From(e.Session), options) + "\n\n",
                        LiveEvent.EventOneofCase.Anomaly when kind is "anomaly" or "all" && anomalies.Matches(e.Anomaly) =>
                            $"event: anomaly\nid: {e.Anomaly.Id}\ndata: " + JsonSerializer.Serialize(AnomalyJson.From(e.Anomaly), options) + "\n\n",
                        _ => null,
                    };
                    if (line is not null)
                        await response.WriteAsync(line, ct).ConfigureAwait(false);
                }
                await response.Body.FlushAsync(ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away, or the gateway is stopping.
        }
        finally
        {
            await gateway.Live.LeaveAsync(events).ConfigureAwait(false);
        }
        return Results.Empty;
    }
}
