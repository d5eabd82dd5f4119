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
    private readonly Dictionary<string, IActivationRegistry> _registries;
    private readonly Func<ClusterIdentity, PID> _spawn; // one delegate, not one per activation
    private readonly DictionaryActivationRegistry _fallback = new();

    public LocalActivations(Proto.Cluster.Cluster cluster, IReadOnlyDictionary<string, IActivationRegistry> registries)
    {
        _cluster = cluster;
        _registries = new Dictionary<string, IActivationRegistry>(registries);
        _spawn = Spawn;
        cluster.System.EventStream.Subscribe<ActivationTerminating>(OnTerminating);
    }

    public int Count
    {
        get
        {
            var n = _fallback.Count;
            foreach (var r in _registries.Values)
                n += r.Count;
            return n;
        }
    }

    public IEnumerable<PID> All => _registries.Values.SelectMany(r => r.All).Concat(_fallback.All);

    private IActivationRegistry RegistryOf(string kind) => _registries.TryGetValue(kind, out var r) ? r : _fallback;

    /// <summary>The actor for <paramref name="identity"/>, spawned here if it has none yet.</summary>
    public PID Activate(ClusterIdentity identity) => RegistryOf(identity.Kind).Activate(identity, _spawn);

    private PID Spawn(ClusterIdentity identity) =>
        _cluster.System.Root.Spawn(_cluster.GetClusterKind(identity.Kind).Props, ctx => ctx.Set(identity));

    private void OnTerminating(ActivationTerminating terminating)
    {
        RegistryOf(terminating.ClusterIdentity.Kind).TryRemove(terminating.ClusterIdentity, terminating.Pid);
        _cluster.PidCache.RemoveByVal(terminating.ClusterIdentity, terminating.Pid);
    }
}
