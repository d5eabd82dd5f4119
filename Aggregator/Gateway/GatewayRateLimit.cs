using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// The per-client request limit: ASP.NET Core's rate limiter, one token bucket per client
/// address (<c>Gateway:Burst</c> requests at once, refilled by <c>Gateway:RequestsPerSecond</c>
/// each second). Every request costs one token, whatever its route, so Prometheus
/// scraping <c>/metrics</c> every 15 s is far inside it; the probes (<c>/healthz</c>,
/// <c>/readyz</c>) are exempt at their routes, so a busy client never fails its pod's probes.
/// A stream is one request however long it lasts (a token bucket's lease gives nothing
/// back and holds nothing), so it costs one token at its start; the number of streams at
/// once has its own cap (<c>Gateway:MaxStreamClients</c>).
/// <para>
/// The client is the connection's address: behind a proxy or an ingress every client
/// shares the proxy's bucket (forwarded headers are not trusted, since anyone can write
/// them). An IPv6 client is its /64, the block one host is given and can pick addresses from.
/// </para>
/// </summary>
internal static class GatewayRateLimit
{
    public static void AddGatewayRateLimit(this IServiceCollection services, GatewaySettings settings, GatewayRefusals refusals) =>
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http => RateLimitPartition.GetTokenBucketLimiter(ClientOf(http), _ =>
                new TokenBucketRateLimiterOptions
                {
                    TokenLimit = settings.Burst,
                    TokensPerPeriod = settings.RequestsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0, // refuse at once: a queued request would hold its connection and memory
                    AutoReplenishment = true,
                }));
            o.OnRejected = (rejected, ct) =>
            {
                refusals.CountLimited();
                var http = rejected.HttpContext;
                var wait = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
                http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                return new ValueTask(Results.Problem(title: "Too many requests",
                    detail: $"this client made more than Gateway:Burst ({settings.Burst}) requests at once or Gateway:RequestsPerSecond ({settings.RequestsPerSecond}) on average; retry after {seconds} s",
                    statusCode: StatusCodes.Status429TooManyRequests).ExecuteAsync(http));
            };
        });

    /// <summary>The bucket a request draws from: its client's address, an IPv6 one by its /64.</summary>
    public static string ClientOf(HttpContext http)
    {
        var address = http.Connection.RemoteIpAddress;
        if (address is null)
            return "unknown";
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetworkV6 || IPAddress.IsLoopback(address))
            return address.ToString();
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }
}
