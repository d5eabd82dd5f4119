using System.Collections.Concurrent;
using Proto;
using Proto.Cluster;

namespace FlowMesh.Cluster.Placement;

/// <summary>
/// The virtual actors this member hosts. Activation spawns the kind's props (which
/// Proto.Cluster decorates to announce termination) with the identity set on the
/// context, the way Proto.Cluster's own placement actors do, and forgets an actor
/// when it announces it is terminating.
/// </summary>
public sealed class LocalActivations
{
    private readonly Proto.Cluster.Cluster _cluster;
    private readonly ConcurrentDictionary<ClusterIdentity, PID> _actors = new();
    // Spawning is rare next to sending; one lock keeps two racing activations of one identity from both spawning.
    private readonly Lock _spawnLock = new();

    public LocalActivations(Proto.Cluster.Cluster cluster)
    {
        _cluster = cluster;
        cluster.System.EventStream.Subscribe<ActivationTerminating>(OnTerminating);
    }

    public int Count => _actors.Count;

    public IEnumerable<PID> All => _actors.Values;

    /// <summary>The actor for <paramref name="identity"/>, spawned here if it has none yet.</summary>
    public PID Activate(ClusterIdentity identity)
    {
        if (_actors.TryGetValue(identity, out var pid))
            return pid;
        lock (_spawnLock)
        {
            if (_actors.TryGetValue(identity, out pid))
                return pid;
            pid = _cluster.System.Root.Spawn(_cluster.GetClusterKind(identity.Kind).Props, ctx => ctx.Set(identity));
            _actors[identity] = pid;
            return pid;
        }
    }

    private void OnTerminating(ActivationTerminating terminating)
    {
        _actors.TryRemove(new KeyValuePair<ClusterIdentity, PID>(terminating.ClusterIdentity, terminating.Pid));
        _cluster.PidCache.RemoveByVal(terminating.ClusterIdentity, terminating.Pid);
    }
}
