using k8s.Models;

namespace FlowMesh.Kubernetes;

/// <summary>
/// What FlowMesh keeps of a pod: who it is, what owns it, where it runs and the addresses it
/// holds. The owner is the pod's controller, followed through a ReplicaSet to its Deployment:
/// OwnerKind is Deployment, StatefulSet, DaemonSet, Job, ReplicaSet..., null for a bare pod.
/// Started is the pod's status.startTime, if the API said; a Finished pod (succeeded or
/// failed) has given its addresses back.
/// </summary>
public sealed record PodInfo(
    string Uid, string Namespace, string Name, string? OwnerKind, string? Owner,
    IReadOnlyDictionary<string, string> Labels, IReadOnlyList<string> Addresses, string? NodeName,
    bool HostNetwork, DateTimeOffset? Started, bool Finished)
{
    /// <summary>The workload's name: namespace/owner, or namespace/pod for a pod no controller owns.</summary>
    public string Workload => $"{Namespace}/{Owner ?? Name}";

    public static PodInfo? From(V1Pod pod)
    {
        if (pod.Metadata?.Uid is not { Length: > 0 } uid)
            return null;
        var (kind, owner) = OwnerOf(pod.Metadata);
        var addresses = pod.Status?.PodIPs?.Select(p => p.Ip).Where(ip => !string.IsNullOrEmpty(ip)).ToList()
            ?? (pod.Status?.PodIP is { Length: > 0 } one ? [one] : []);
        return new PodInfo(
            uid, pod.Metadata.NamespaceProperty ?? "default", pod.Metadata.Name ?? uid, kind, owner,
            pod.Metadata.Labels is { } labels ? new Dictionary<string, string>(labels) : new Dictionary<string, string>(),
            addresses, pod.Spec?.NodeName, pod.Spec?.HostNetwork ?? false,
            pod.Status?.StartTime is { } started ? new DateTimeOffset(DateTime.SpecifyKind(started, DateTimeKind.Utc)) : null,
            pod.Status?.Phase is "Succeeded" or "Failed");
    }

    /// <summary>
    /// The controller, and for a ReplicaSet the Deployment that made it. A Deployment names
    /// its ReplicaSets NAME-HASH, HASH being the pod's pod-template-hash label, so the
    /// Deployment is read off the name without asking the API for the ReplicaSet (and so
    /// without the RBAC to read ReplicaSets).
    /// </summary>
    internal static (string? Kind, string? Name) OwnerOf(V1ObjectMeta meta)
    {
        var controller = meta.OwnerReferences?.FirstOrDefault(o => o.Controller == true) ?? meta.OwnerReferences?.FirstOrDefault();
        if (controller is null)
            return (null, null);
        if (controller.Kind == "ReplicaSet" && meta.Labels?.TryGetValue("pod-template-hash", out var hash) == true &&
            controller.Name.EndsWith("-" + hash, StringComparison.Ordinal))
            return ("Deployment", controller.Name[..^(hash.Length + 1)]);
        return (controller.Kind, controller.Name);
    }
}
