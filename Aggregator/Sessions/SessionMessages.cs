using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>A flow for a shard with its session key (computed once, by the ingress); <c>Resent</c>: a Node sent it before, to an Aggregator that never confirmed it stored.</summary>
internal readonly record struct ShardFlow(string Key, FlowView Flow, bool Resent);

/// <summary>Flows for one shard, inside one Aggregator (never sent over the network).</summary>
internal sealed class ShardFlows(List<ShardFlow> flows)
{
    public List<ShardFlow> Flows { get; } = flows;
}

/// <summary>
/// A Node's host has no member in the cluster any more (it crashed, or stopped): the open
/// sides it watched will never report their end, so their sessions settle with the sides
/// still watched, marked incomplete, naming the host.
/// </summary>
internal sealed record HostLost(string HostId);

/// <summary>Asks a shard for the session under a key it holds in memory; answered with a <see cref="SessionQueryResponse"/> (not found when it holds none).</summary>
internal sealed record ShardSessionQuery(string Key);

/// <summary>Tells a shard to act on the sessions whose time has come (join window over, linger over, idle).</summary>
internal sealed class SweepSessions
{
    public static readonly SweepSessions Instance = new();
}
