namespace FlowMesh.Contracts.Cluster;

/// <summary>The cluster kinds FlowMesh members host, and how their identities are spelled.</summary>
public static class ClusterKinds
{
    /// <summary>One virtual actor per connection per host; identity <c>{hostId}/{cookie}</c>.</summary>
    public const string Flow = "flow";

    /// <summary>The member roles written in registrations.</summary>
    public const string NodeRole = "node";
    public const string AggregatorRole = "aggregator";
    public const string ClientRole = "client";

    /// <summary>One virtual actor per connection seen across the fleet; identity: its session key (<see cref="SessionKeys"/>).</summary>
    public const string Session = SessionKeys.Kind;

    /// <summary>The name of every Aggregator's actor that takes flows in for its sessions.</summary>
    public const string SessionIngressActor = "flowmesh-sessions";

    /// <summary>The name of every Node's control actor (status, relayed queries).</summary>
    public const string NodeControlActor = "flowmesh-node";

    /// <summary>The name of every Node's actor that takes the Aggregators' word that flows' sessions are stored (<c>FlowsStored</c>).</summary>
    public const string HandOffActor = "flowmesh-handoff";

    public static string FlowIdentity(string hostId, ulong cookie) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{hostId}/{cookie}");

    /// <summary>Splits a flow identity into host id and cookie; false if it is not one.</summary>
    public static bool TryParseFlowIdentity(string identity, out string hostId, out ulong cookie)
    {
        var slash = identity.LastIndexOf('/');
        hostId = slash > 0 ? identity[..slash] : "";
        cookie = 0;
        return slash > 0 && ulong.TryParse(identity.AsSpan(slash + 1), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out cookie);
    }

    /// <summary>The host an identity belongs to, for kinds placed by host (flows); null for others.</summary>
    public static string? HostOf(string kind, string identity) =>
        kind == Flow && TryParseFlowIdentity(identity, out var host, out _) ? host : null;
}
