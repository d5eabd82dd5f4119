using System.Text.RegularExpressions;

namespace FlowMesh.Node.Identity;

/// <summary>
/// What a cgroup path says about the workload inside it: the systemd unit, the container
/// (and which runtime made it) and the Kubernetes pod. The layouts are the ones systemd,
/// Docker, Podman, containerd and CRI-O write, with the systemd and the cgroupfs drivers:
/// <code>
/// /system.slice/redis-server.service                                         unit
/// /user.slice/user-1000.slice/user@1000.service/app.slice/app-foo.scope      unit (the innermost)
/// /system.slice/docker-4f1c...e2.scope                                       docker
/// /docker/4f1c...e2                                                          docker, cgroupfs driver
/// /machine.slice/libpod-4f1c...e2.scope/container                            podman
/// /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c_d3e4.slice/cri-containerd-4f1c...e2.scope
/// /kubepods/besteffort/pod1b2c-d3e4/4f1c...e2                               pod and container, cgroupfs driver
/// /kubepods.slice/kubepods-pod1b2c_d3e4.slice/crio-4f1c...e2.scope           CRI-O, guaranteed QoS
/// </code>
/// Container ids are 64 hex digits; pod UIDs are written with '_' for '-' by the systemd driver.
/// </summary>
public static partial class CgroupPaths
{
    public static CgroupWorkload Parse(string path)
    {
        string? unit = null, containerId = null, runtime = null, podUid = null;
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            if (PodPart().Match(part) is { Success: true } pod)
            {
                podUid = pod.Groups["uid"].Value.Replace('_', '-');
                continue;
            }
            if (ScopedContainer().Match(part) is { Success: true } scoped)
            {
                (runtime, containerId) = (RuntimeOf(scoped.Groups["prefix"].Value), scoped.Groups["id"].Value);
                continue;
            }
            if (BareId().IsMatch(part) && i > 0)
            {
                // cgroupfs drivers: /docker/ID, /kubepods/QOS/podUID/ID, /libpod_parent/libpod-ID
                (runtime, containerId) = (parts[i - 1] == "docker" ? "docker" : podUid is not null ? "cri" : "container", part);
                continue;
            }
            if (containerId is null && (part.EndsWith(".service", StringComparison.Ordinal) || part.EndsWith(".scope", StringComparison.Ordinal)))
                unit = part; // the innermost unit above any container: a later one replaces an earlier
        }
        return new CgroupWorkload(path, unit, containerId, runtime, podUid);
    }

    /// <summary>
    /// The cgroup path of a process from its /proc/PID/cgroup: the unified (v2) line "0::PATH",
    /// or on a v1/v2 hybrid whose v2 line is the root, the line of systemd's own hierarchy.
    /// </summary>
    public static string? FromProcCgroup(string text)
    {
        string? unified = null, systemd = null;
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(':', 3);
            if (fields.Length != 3)
                continue;
            if (fields[0] == "0" && fields[1].Length == 0)
                unified = fields[2];
            else if (fields[1] == "name=systemd")
                systemd = fields[2];
        }
        return unified is not null and not "/" ? unified : systemd ?? unified;
    }

    private static string RuntimeOf(string prefix) => prefix switch
    {
        "docker" => "docker",
        "libpod" or "libpod-conmon" => "podman",
        "cri-containerd" => "containerd",
        "crio" or "crio-conmon" => "cri-o",
        _ => prefix,
    };

    [GeneratedRegex("^(kubepods-(besteffort-|burstable-)?)?pod(?<uid>[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(\\.slice)?$")]
    private static partial Regex PodPart();

    [GeneratedRegex("^(?<prefix>docker|libpod|libpod-conmon|cri-containerd|crio|crio-conmon)-(?<id>[0-9a-f]{64})\\.scope$")]
    private static partial Regex ScopedContainer();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex BareId();
}
