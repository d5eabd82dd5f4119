namespace FlowMesh.Node.Identity;

/// <summary>
/// A workload as its cgroup names it: the path, and what it says (any part may be unknown).
/// <paramref name="ContainerRuntime"/> is docker, podman, containerd, cri-o, or cri for a
/// Kubernetes container under the cgroupfs driver (whose path does not say which runtime).
/// </summary>
public sealed record CgroupWorkload(string Path, string? Unit, string? ContainerId, string? ContainerRuntime, string? PodUid)
{
    public static readonly CgroupWorkload Unknown = new("", null, null, null, null);

    /// <summary>The most specific name: the container (short id), else the unit, else the path.</summary>
    public string Name => ContainerId is { } id ? $"{ContainerRuntime}:{id[..12]}" : Unit ?? Path;

    /// <summary>The message flow views carry; null for an unknown cgroup.</summary>
    public Contracts.Messages.Workload? ToMessage() => Path.Length == 0 ? null : new()
    {
        Cgroup = Path,
        Unit = Unit ?? "",
        ContainerId = ContainerId ?? "",
        ContainerRuntime = ContainerRuntime ?? "",
        PodUid = PodUid ?? "",
    };
}
