using System.Collections.Concurrent;
using Proto;
using Proto.Cluster;

namespace FlowMesh.Cluster.Placement;

/// <summary>
/// Where a member keeps the PIDs of the virtual actors it activated, for one kind, and
/// how it spawns them. A kind with a hot path can bring its own: the Node keys flows by
/// socket cookie, so capture never builds an identity string to find a flow, and spawns
/// them without Proto's per-actor context store (~400 bytes per actor).
/// </summary>
public interface IActivationRegistry
{
    /// <summary>
    /// The actor for <paramref name="identity"/>, spawned if it has none (thread-safe: two
    /// racing activations get one actor). <paramref name="spawn"/> is the kind's own way
    /// (its props, with the identity on the context); a registry may spawn its own way.
    /// </summary>
    PID Activate(ClusterIdentity identity, Func<ClusterIdentity, PID> spawn);

    /// <summary>Forgets the activation if it is still <paramref name="pid"/> (it stopped).</summary>
    bool TryRemove(ClusterIdentity identity, PID pid);

    int Count { get; }

    IEnumerable<PID> All { get; }
}

/// <summary>The default registry: a concurrent map from identity to PID.</summary>
public sealed class DictionaryActivationRegistry : IActivationRegistry
{
    private readonly ConcurrentDictionary<ClusterIdentity, PID> _actors = new();
    // Spawning is rare next to sending; one lock keeps two racing activations of one identity from both spawning.
    private readonly Lock _spawnLock = new();

    public PID Activate(ClusterIdentity identity, Func<ClusterIdentity, PID> spawn)
    {
        if (_actors.TryGetValue(identity, out var pid))
            return pid;
        lock (_spawnLock)
        {
            if (_actors.TryGetValue(identity, out pid))
                return pid;
            pid = spawn(identity);
            _actors[identity] = pid;
            return pid;
        }
    }

    public bool TryRemove(ClusterIdentity identity, PID pid) => _actors.TryRemove(new KeyValuePair<ClusterIdentity, PID>(identity, pid));

    public int Count => _actors.Count;

    public IEnumerable<PID> All => _actors.Values;
}
