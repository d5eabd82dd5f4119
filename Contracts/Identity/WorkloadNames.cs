using FlowMesh.Contracts.Messages;

namespace FlowMesh.Contracts.Identity;

/// <summary>
/// The one spelling of a workload as an end of an edge, most specific first:
/// <list type="bullet">
/// <item>a Kubernetes pod: namespace/owner (the Deployment, StatefulSet, DaemonSet...), or namespace/pod for a bare pod;</item>
/// <item>a container: runtime:short-id;</item>
/// <item>a systemd service: its unit, e.g. redis-server.service.</item>
/// </list>
/// Anything else (a login session's scope, the root cgroup, a user's own systemd manager)
/// says nothing about the program, and is named by its process and address as before.
/// </summary>
public static class WorkloadNames
{
    /// <summary>The workload's name, or null when its cgroup names no workload.</summary>
    public static string? Of(Workload? w)
    {
        if (w is null)
            return null;
        if (w.Namespace.Length > 0)
            return $"{w.Namespace}/{(w.Owner.Length > 0 ? w.Owner : w.Pod)}";
        if (w.ContainerId.Length >= 12)
            return $"{w.ContainerRuntime}:{w.ContainerId[..12]}";
        if (w.PodUid.Length > 0)
            return "pod:" + w.PodUid;
        return IsService(w.Unit) ? w.Unit : null;
    }

    /// <summary>A server end: the workload and the port it listened on.</summary>
    public static string Server(string workload, uint port) => $"{workload}:{port}";

    private static bool IsService(string unit) =>
        unit.EndsWith(".service", StringComparison.Ordinal) && !unit.StartsWith("user@", StringComparison.Ordinal);
}
