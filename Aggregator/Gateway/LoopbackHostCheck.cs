using Microsoft.AspNetCore.Http;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// The Host check of a gateway on loopback without a token. With no token, "only this
/// host can connect" is the whole boundary, and DNS rebinding crosses it: a page from
/// evil.example that re-resolves its own name to 127.0.0.1 makes the browser send the
/// page's requests here, same-origin, with <c>Host: evil.example</c>. So only the names
/// of this host are answered: localhost, 127.0.0.1 and [::1] (any port), and the names
/// of <c>Gateway:AllowedHosts</c>. A gateway with a token checks no Host: the token is
/// the boundary, and a Kubernetes Service or a proxy may reach it under any name.
/// <para>
/// ASP.NET Core's HostFiltering middleware does the matching, but refuses with a bare 400
/// (an HTML page, or no body) that neither names the Host nor can be counted; this check
/// is a few lines, answers with problem+json naming the Host, and counts.
/// </para>
/// </summary>
internal sealed class LoopbackHostCheck(IEnumerable<string> allowedHosts)
{
    private readonly HashSet<string> _allowed = new(["localhost", "127.0.0.1", "[::1]", .. allowedHosts], StringComparer.OrdinalIgnoreCase);

    /// <summary>The names answered to, for the refusal's text.</summary>
    public IReadOnlyCollection<string> Allowed => _allowed;

    /// <summary>Whether this Host header (its name; the port does not matter) is one of this host's names.</summary>
    public bool Allows(HostString host) => host.HasValue && _allowed.Contains(host.Host);

    public IResult Refusal(HostString host) => Results.Problem(
        title: "Host not allowed",
        detail: (host.HasValue ? $"this gateway answers only to {string.Join(", ", _allowed)}, not to Host '{host.Value}'" : "the request has no Host header")
            + "; add a name this host is reached by to Gateway:AllowedHosts",
        statusCode: StatusCodes.Status400BadRequest,
        extensions: new Dictionary<string, object?> { ["host"] = host.Value });
}
