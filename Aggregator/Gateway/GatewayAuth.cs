using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// Bearer token check, on when the gateway listens beyond loopback. Health probes and
/// the web page's static files stay open (they hold no data; the page asks for the token
/// and sends it with every call). Browsers cannot set headers on an EventSource, so the
/// token may also come as the <c>access_token</c> query parameter (RFC 6750, 2.3).
/// </summary>
internal sealed class GatewayAuth(string token)
{
    public const string TokenParameter = "access_token";

    private readonly byte[] _token = Encoding.UTF8.GetBytes(token);

    public static bool IsOpen(PathString path) =>
        path == "/healthz" || path == "/readyz" || path == "/" || path.StartsWithSegments("/ui");

    public bool Allows(HttpRequest request)
    {
        string? presented = null;
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            presented = header["Bearer ".Length..].Trim();
        else if (request.Query.TryGetValue(TokenParameter, out var q))
            presented = q.ToString();
        return presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), _token);
    }
}
