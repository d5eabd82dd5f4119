using System.Collections.Concurrent;
using Proto;
using Proto.Cluster;

namespace FlowMesh.Cluster.Placement;

/// <summary>
/// Where a member keeps the PIDs of the virtual actors it activated, for one kind.
/// A kind with a hot path can bring its own (the Node keys flows by socket cookie,
/// so capture never builds an identity string to find a flow).
/// </summary>
public interface IActivationRegistry
{
    bool TryGet(ClusterIdentity identity, out PID pid);

    /// <summary>Adds the activation; false if the identity already has one.</summary>
    bool TryAdd(ClusterIdentity identity, PID pid);

    /// <summary>Removes the activation if it is still <paramref name="pid"/>.</summary>
    bool TryRemove(ClusterIdentity identity, PID pid);

    int Count { get; }

    IEnumerable<PID> All { get; }
}

/// <summary>
/// A registry that also spawns its kind's actors, for kinds whose actors are started
/// without Proto's per-actor context store (it costs ~400 bytes per actor): such a
/// registry passes the identity to the actor itself and removes the actor when it stops.
/// </summary>
public interface ISelfActivatingRegistry : IActivationRegistry
{
    /// <summary>The actor for <paramref name="identity"/>, spawned if it has none (thread-safe).</summary>
    PID Activate(ClusterIdentity identity);
}

/// <summary>The default registry: a concurrent map from identity to PID.</summary>
public sealed class DictionaryActivationRegistry : IActivationRegistry
{
    private readonly ConcurrentDictionary<ClusterIdentity, PID> _actors = new();

    public bool TryGet(ClusterIdentity identity, out PID pid) => _actors.TryGetValue(identity, out pid!);

    public bool TryAdd(ClusterIdentity identity, PID pid) => _actors.TryAdd(identity, pid);

    public bool TryRemove(ClusterIdentity identity, PID pid) => _actors.TryRemove(new KeyValuePair<ClusterIdentity, PID>(identity, pid));

    public int Count => _actors.Count;

    public IEnumerable<PID> All => _actors.Values;
}
