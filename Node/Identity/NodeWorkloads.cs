using FlowMesh.Contracts.Messages;
using FlowMesh.Kubernetes;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Node.Identity;

/// <summary>
/// Names a flow's workload on this host: its cgroup (unit, container, pod UID), and in
/// Kubernetes the pod that UID is (namespace, name, labels, owner) from a watch of the pods
/// on this node only (a field selector on spec.nodeName: RBAC get/list/watch on pods).
/// </summary>
public sealed class NodeWorkloads : IAsyncDisposable
{
    private readonly CgroupResolver _cgroups;
    private readonly NodePods? _pods;
    private readonly ResourceWatch<k8s.Models.V1Pod, k8s.Models.V1PodList>? _watch;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watching = Task.CompletedTask;

    public NodeWorkloads(CgroupResolver cgroups, KubernetesSettings kubernetes, ILogger log)
    {
        _cgroups = cgroups;
        if (!kubernetes.IsEnabled)
            return;
        _pods = new NodePods(kubernetes.MaxPods);
        _watch = KubernetesWatches.PodsOnNode(KubernetesConnection.Open(kubernetes), kubernetes.EffectiveNodeName, _pods, log);
        _watching = Task.Run(() => _watch.RunAsync(_stop.Token), CancellationToken.None);
    }

    public CgroupResolver Cgroups => _cgroups;

    public long Pods => _pods?.Count ?? 0;

    public long PodsShed => _pods?.Shed ?? 0;

    public long KubernetesErrors => _watch?.Errors ?? 0;

    /// <summary>The workload of a task in cgroup <paramref name="cgroupId"/> (process <paramref name="tgid"/>); null when its cgroup is unknown.</summary>
    public Workload? Describe(ulong cgroupId, int tgid)
    {
        var cgroup = _cgroups.Resolve(cgroupId, tgid);
        var workload = cgroup.ToMessage();
        if (workload is not null && cgroup.PodUid is { } uid && _pods?.Find(uid) is { } pod)
        {
            workload.Namespace = pod.Namespace;
            workload.Pod = pod.Name;
            workload.OwnerKind = pod.OwnerKind ?? "";
            workload.Owner = pod.Owner ?? "";
            foreach (var (key, value) in pod.Labels)
                workload.Labels[key] = value;
        }
        return workload;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _watching.ConfigureAwait(false);
        _stop.Dispose();
    }
}
