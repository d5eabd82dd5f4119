using System.Net;
using Microsoft.Extensions.Configuration;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// The Gateway section: where the HTTP API listens, the token it asks for off loopback,
/// the stream tickets that stand in for the token in a URL, the Host names a loopback
/// gateway answers to, the per-client request rate, and how many streams it serves at once.
/// </summary>
public sealed record GatewaySettings(bool Enabled, IPAddress Address, int Port, string? Token,
    int MaxStreamClients = GatewaySettings.DefaultMaxStreamClients, int MaxReadsPerRequest = GatewaySettings.DefaultMaxReadsPerRequest)
{
    public const int DefaultMaxStreamClients = 64;

    /// <summary>A page of /api/edges over 15 minutes is 100 edges of 91 reads each: about 10,000.</summary>
    public const int DefaultMaxReadsPerRequest = 20_000;

    public const int DefaultTicketSeconds = 60;
    public const int DefaultMaxStreamTickets = 10_000;

    /// <summary>The web view makes about 5 requests every 5 s; a script paging through sessions, a few dozen a second.</summary>
    public const int DefaultRequestsPerSecond = 50;

    /// <summary>The page's first load (its files, then every panel at once) fits with room to spare.</summary>
    public const int DefaultBurst = 100;

    /// <summary>How long a stream ticket is valid (<c>Gateway:TicketSeconds</c>).</summary>
    public TimeSpan TicketLifetime { get; init; } = TimeSpan.FromSeconds(DefaultTicketSeconds);

    /// <summary>Tickets held at once, used and recently expired included (<c>Gateway:MaxStreamTickets</c>).</summary>
    public int MaxStreamTickets { get; init; } = DefaultMaxStreamTickets;

    /// <summary>Host names, besides localhost, 127.0.0.1 and [::1], a loopback gateway without a token answers to (<c>Gateway:AllowedHosts</c>).</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    /// <summary>Requests a second one client may make on average (<c>Gateway:RequestsPerSecond</c>); 0: no limit.</summary>
    public int RequestsPerSecond { get; init; } = DefaultRequestsPerSecond;

    /// <summary>Requests one client may make at once beyond the rate (<c>Gateway:Burst</c>).</summary>
    public int Burst { get; init; } = DefaultBurst;

    public bool IsLoopback => IPAddress.IsLoopback(Address);

    /// <summary>A loopback gateway without a token checks the Host header: a page from elsewhere that renamed itself to 127.0.0.1 (DNS rebinding) must not read it.</summary>
    public bool ChecksHost => Token is null && IsLoopback;

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
        var ticketSeconds = s.GetValue("TicketSeconds", DefaultTicketSeconds);
        if (ticketSeconds is < 1 or > 3600)
            throw new ArgumentException($"Gateway:TicketSeconds {ticketSeconds} must be from 1 to 3600 (a ticket is only the time to open a stream)");
        var maxTickets = s.GetValue("MaxStreamTickets", DefaultMaxStreamTickets);
        if (maxTickets < 1)
            throw new ArgumentException($"Gateway:MaxStreamTickets {maxTickets} must be at least 1");
        var rate = s.GetValue("RequestsPerSecond", DefaultRequestsPerSecond);
        if (rate < 0)
            throw new ArgumentException($"Gateway:RequestsPerSecond {rate} must be 0 (no limit) or more");
        var burst = s.GetValue("Burst", DefaultBurst);
        if (rate > 0 && burst < 1)
            throw new ArgumentException($"Gateway:Burst {burst} must be at least 1 (the requests a client may make at once)");
        return new GatewaySettings(enabled, address, port, token, maxStreams, maxReads)
        {
            TicketLifetime = TimeSpan.FromSeconds(ticketSeconds),
            MaxStreamTickets = maxTickets,
            AllowedHosts = HostNames(s.GetSection("AllowedHosts")),
            RequestsPerSecond = rate,
            Burst = burst,
        };
    }

    /// <summary>
    /// A list in a settings file (<c>"AllowedHosts": ["a", "b"]</c>, or
    /// FLOWMESH_GATEWAY__ALLOWEDHOSTS__0=a), or one value with names separated by commas or
    /// semicolons (FLOWMESH_GATEWAY__ALLOWEDHOSTS=a,b). A name has no port: any port is accepted.
    /// </summary>
    private static string[] HostNames(IConfigurationSection section)
    {
        // An empty list in a settings file ("AllowedHosts": []) is the value "", under any items an environment variable adds.
        IEnumerable<string> values = [section.Value ?? "", .. section.GetChildren().Select(c => c.Value ?? "")];
        var names = new List<string>();
        foreach (var name in values.SelectMany(v => v.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var kind = Uri.CheckHostName(name);
            if (kind == UriHostNameType.Unknown)
                throw new ArgumentException($"Gateway:AllowedHosts '{name}' is not a host name (no scheme, port or wildcard: e.g. flowmesh.local)");
            // The Host header writes an IPv6 address in brackets.
            names.Add(kind == UriHostNameType.IPv6 && !name.StartsWith('[') ? $"[{name}]" : name);
        }
        return [.. names];
    }
}
