using FlowMesh.Aggregator.Sessions;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// Which edges (and sessions, by their edge) a query asks for by workload: <c>workload</c>
/// (either end's name, e.g. shop/cart or redis.service, without the port), <c>namespace</c>
/// (either end in that Kubernetes namespace) and <c>unit</c> (either end that systemd unit).
/// </summary>
internal sealed record EdgeFilter(string? Workload, string? Namespace, string? Unit)
{
    public static readonly string[] Parameters = ["workload", "namespace", "unit"];

    public static EdgeFilter Read(QueryReader q) => new(q.String("workload", 300), q.String("namespace", 253), q.String("unit", 256));

    public bool IsEmpty => (Workload ?? Namespace ?? Unit) is null;

    public bool Matches(string edge) => Edges.Split(edge) is var (client, server) && Matches(client, WorkloadOf(server));

    public bool Matches(SessionView s) => Matches(Edges.Of(s));

    private bool Matches(string client, string server) =>
        (Workload is null || client == Workload || server == Workload)
        && (Unit is null || client == Unit || server == Unit)
        && (Namespace is null || client.StartsWith(Namespace + "/", StringComparison.Ordinal) || server.StartsWith(Namespace + "/", StringComparison.Ordinal));

    /// <summary>A server end without its port: shop/cart:8080 is shop/cart, [::1]:80 is [::1].</summary>
    private static string WorkloadOf(string serverEnd) =>
        serverEnd.LastIndexOf(':') is var colon and > 0 && serverEnd[(colon + 1)..].All(char.IsAsciiDigit) ? serverEnd[..colon] : serverEnd;
}
