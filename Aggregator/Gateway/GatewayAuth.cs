using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// Bearer token check, on when the gateway has a token (always beyond loopback). Health
/// probes and the web page's static files stay open (they hold no data; the page asks for
/// the token and sends it with every call). The token is taken from the Authorization
/// header only: a URL ends up in proxy, server and browser logs. Browsers cannot set
/// headers on an <c>EventSource</c>, so <c>/api/stream</c> alone also accepts a stream
/// ticket (<see cref="StreamTicketTable"/>) in its URL: single use, and short-lived.
/// </summary>
internal sealed class GatewayAuth(string token, StreamTicketTable tickets)
{
    public const string TicketParameter = "ticket";
    public const string StreamPath = "/api/stream";

    /// <summary>Where a token in a URL is usually put (RFC 6750's <c>access_token</c>, and the obvious one): refused by name, so the caller learns why.</summary>
    private static readonly string[] TokenInUrlParameters = ["access_token", "token"];

    private readonly byte[] _token = Encoding.UTF8.GetBytes(token);

    public static bool IsOpen(PathString path) =>
        path == "/healthz" || path == "/readyz" || path == "/" || path.StartsWithSegments("/ui");

    /// <summary>Null when the request may go on; else why not, for a 401.</summary>
    public AuthRefusal? Check(HttpRequest request)
    {
        foreach (var name in TokenInUrlParameters)
        {
            if (request.Query.ContainsKey(name))
            {
                return new AuthRefusal("token-in-url", name,
                    $"the token is not accepted in a URL ('{name}'), where proxies and browsers log it: send 'Authorization: Bearer TOKEN', or for {StreamPath} a ticket from POST {StreamPath}/ticket");
            }
        }
        var header = request.Headers.Authorization;
        if (header.Count > 0)
        {
            var value = header.ToString();
            if (!value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                return new AuthRefusal("not-bearer", null, "the Authorization header must be 'Bearer TOKEN' (the Gateway:Token setting)");
            var presented = Encoding.UTF8.GetBytes(value["Bearer ".Length..].Trim());
            return CryptographicOperations.FixedTimeEquals(presented, _token)
                ? null
                : new AuthRefusal("wrong-token", null, "the bearer token is not this gateway's (the Gateway:Token setting)");
        }
        if (request.Query.TryGetValue(TicketParameter, out var ticket))
        {
            if (request.Path != StreamPath || !HttpMethods.IsGet(request.Method))
                return new AuthRefusal("ticket-not-here", TicketParameter, $"a ticket opens GET {StreamPath} only; everything else needs 'Authorization: Bearer TOKEN'");
            return tickets.Redeem(ticket.ToString()) switch
            {
                TicketCheck.Valid => null,
                TicketCheck.Expired => new AuthRefusal("ticket-expired", TicketParameter,
                    $"the ticket expired (a ticket is valid {tickets.Lifetime.TotalSeconds:0} s): get a new one with POST {StreamPath}/ticket"),
                TicketCheck.Used => new AuthRefusal("ticket-used", TicketParameter,
                    $"the ticket has started a stream already (one stream per ticket): get a new one with POST {StreamPath}/ticket"),
                _ => new AuthRefusal("ticket-unknown", TicketParameter,
                    "this gateway did not issue the ticket (or forgot it long after it expired); tickets are per gateway process: open the stream on the gateway that issued it"),
            };
        }
        return new AuthRefusal("missing", null,
            $"this gateway needs 'Authorization: Bearer TOKEN' (the Gateway:Token setting); {StreamPath} takes '?{TicketParameter}=' from POST {StreamPath}/ticket instead");
    }
}

/// <summary>Why a request was refused: <paramref name="Reason"/> a word for programs, <paramref name="Parameter"/> the query parameter at fault, if one was.</summary>
internal sealed record AuthRefusal(string Reason, string? Parameter, string Detail);
