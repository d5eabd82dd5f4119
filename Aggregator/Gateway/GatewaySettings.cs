using System.Net;
using Microsoft.Extensions.Configuration;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>The Gateway section: where the HTTP API listens, the token it asks for off loopback, and how many streams it serves at once.</summary>
public sealed record GatewaySettings(bool Enabled, IPAddress Address, int Port, string? Token,
    int MaxStreamClients = GatewaySettings.DefaultMaxStreamClients, int MaxReadsPerRequest = GatewaySettings.DefaultMaxReadsPerRequest)
{
    public const int DefaultMaxStreamClients = 64;

    /// <summary>A page of /api/edges over 15 minutes is 100 edges of 91 reads each: about 10,000.</summary>
    public const int DefaultMaxReadsPerRequest = 20_000;

    public bool IsLoopback => IPAddress.IsLoopback(Address);

    /// <summary>Settings from configuration; throws <see cref="ArgumentException"/> with a one-line reason when they cannot work.</summary>
    public static GatewaySettings From(IConfiguration configuration)
    {
        var s = configuration.GetSection("Gateway");
        var enabled = s.GetValue("Enabled", true);
        var addressText = s["Address"] is { Length: > 0 } a ? a : "127.0.0.1";
        if (!IPAddress.TryParse(addressText, out var address))
            throw new ArgumentException($"Gateway:Address '{addressText}' is not an IP address (e.g. 127.0.0.1, or 0.0.0.0 for every interface)");
        var port = s.GetValue("Port", 8080);
        if (port is < 0 or > 65535)
            throw new ArgumentException($"Gateway:Port {port} is not a port (0-65535)");
        var token = s["Token"] is { Length: > 0 } t ? t : null;
        if (enabled && token is null && !IPAddress.IsLoopback(address))
            throw new ArgumentException($"the gateway listens on {address}, beyond this host, so it needs a token: set Gateway:Token (FLOWMESH_GATEWAY__TOKEN) or --token");
        var maxStreams = s.GetValue("MaxStreamClients", DefaultMaxStreamClients);
        if (maxStreams < 1)
            throw new ArgumentException($"Gateway:MaxStreamClients {maxStreams} must be at least 1");
        var maxReads = s.GetValue("MaxReadsPerRequest", DefaultMaxReadsPerRequest);
        if (maxReads < 100)
            throw new ArgumentException($"Gateway:MaxReadsPerRequest {maxReads} must be at least 100");
        return new GatewaySettings(enabled, address, port, token, maxStreams, maxReads);
    }
}
