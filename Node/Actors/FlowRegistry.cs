using System.Collections.Concurrent;
using FlowMesh.Cluster.Placement;
using FlowMesh.Contracts.Cluster;
using Proto;
using Proto.Cluster;

namespace FlowMesh.Node.Actors;

/// <summary>
/// The flow actors this Node hosts, keyed by socket cookie for its own host, so the
/// capture path finds a flow without building its identity string. Flows of other
/// hosts (activated here only while their host has no member) go to a plain map.
/// </summary>
public sealed class FlowRegistry(string hostId) : IActivationRegistry
{
    private readonly ConcurrentDictionary<ulong, PID> _own = new();
    private readonly DictionaryActivationRegistry _others = new();

    public string HostId { get; } = hostId;

    public bool TryGetOwn(ulong cookie, out PID pid) => _own.TryGetValue(cookie, out pid!);

    public bool TryGet(ClusterIdentity identity, out PID pid) =>
        IsOwn(identity, out var cookie) ? _own.TryGetValue(cookie, out pid!) : _others.TryGet(identity, out pid);

    public bool TryAdd(ClusterIdentity identity, PID pid) =>
        IsOwn(identity, out var cookie) ? _own.TryAdd(cookie, pid) : _others.TryAdd(identity, pid);

    public bool TryRemove(ClusterIdentity identity, PID pid) =>
        IsOwn(identity, out var cookie)
            ? _own.TryRemove(new KeyValuePair<ulong, PID>(cookie, pid))
            : _others.TryRemove(identity, pid);

    public int Count => _own.Count + _others.Count;

    public IEnumerable<PID> All => _own.Values.Concat(_others.All);

    private bool IsOwn(ClusterIdentity identity, out ulong cookie) =>
        ClusterKinds.TryParseFlowIdentity(identity.Identity, out var host, out cookie) && host == HostId;
}
