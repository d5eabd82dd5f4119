using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// The one spelling of an edge of the service map: <c>client end&gt;server end</c>, each end a
/// workload when one is known (README, "Workloads"), and the same edge by address.
/// </summary>
public static class Edges
{
    /// <summary>The edge a session belongs to: client workload > server workload:port (a session stored before ends were named: its address form).</summary>
    public static string Of(SessionView s) =>
        $"{(s.ClientEnd.Length > 0 ? s.ClientEnd : s.ClientWorkload)}>{(s.ServerEnd.Length > 0 ? s.ServerEnd : s.ServerEndpoint)}";

    /// <summary>The same edge by address: the client's process name > the address:port it dialled.</summary>
    public static string AddressOf(SessionView s) => $"{s.ClientWorkload}>{s.ServerEndpoint}";

    /// <summary>An edge's two ends, split at its last '>' (a name never holds one); null for a string that is no edge.</summary>
    public static (string Client, string Server)? Split(string edge) =>
        edge.LastIndexOf('>') is var at and >= 0 ? (edge[..at], edge[(at + 1)..]) : null;
}
