using System.Collections.Concurrent;
using k8s;
using k8s.Models;

namespace FlowMesh.Kubernetes;

/// <summary>
/// The pods on one node by UID, as its Node's watch (a field selector on spec.nodeName)
/// sees them: how a pod UID read from a cgroup path becomes a namespace, name, labels and
/// owner. A deleted pod is kept until the next list, so its last flows are still named.
/// Bounded to <see cref="KubernetesSettings.MaxPods"/>; past it new pods are counted in <see cref="Shed"/>.
/// </summary>
public sealed class NodePods(int maxPods) : IWatchSink<V1Pod>
{
    private readonly ConcurrentDictionary<string, PodInfo> _byUid = new();
    private long _shed;

    public int Count => _byUid.Count;

    /// <summary>Pods not kept: the table was full.</summary>
    public long Shed => Interlocked.Read(ref _shed);

    public PodInfo? Find(string uid) => _byUid.TryGetValue(uid, out var pod) ? pod : null;

    public void Replace(IReadOnlyList<V1Pod> items)
    {
        var listed = items.Select(PodInfo.From).OfType<PodInfo>().ToList();
        foreach (var gone in _byUid.Keys.Except(listed.Select(p => p.Uid)).ToList())
            _byUid.TryRemove(gone, out _);
        foreach (var pod in listed)
            Keep(pod);
    }

    public void Apply(WatchEventType type, V1Pod item)
    {
        if (PodInfo.From(item) is { } pod && type is WatchEventType.Added or WatchEventType.Modified or WatchEventType.Deleted)
            Keep(pod);
    }

    private void Keep(PodInfo pod)
    {
        if (_byUid.Count >= maxPods && !_byUid.ContainsKey(pod.Uid))
        {
            Interlocked.Increment(ref _shed);
            return;
        }
        _byUid[pod.Uid] = pod;
    }
}
