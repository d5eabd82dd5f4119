using FlowMesh.Node.Identity;

namespace FlowMesh.Node.UnitTests;

/// <summary>
/// Cgroup paths as the real layouts write them (systemd, Docker, Podman, containerd and CRI-O,
/// with the systemd and the cgroupfs drivers) and /proc/PID/cgroup on unified and hybrid hosts.
/// </summary>
public sealed class CgroupPathsTests
{
    private const string Id = "4f1c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e";

    [Theory]
    [InlineData("/system.slice/redis-server.service", "redis-server.service", null, null, null)]
    [InlineData("/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-2210.scope", "app-gnome-firefox-2210.scope", null, null, null)]
    [InlineData("/user.slice/user-1000.slice/session-3.scope", "session-3.scope", null, null, null)]
    [InlineData("/system.slice/docker-" + Id + ".scope", null, Id, "docker", null)]
    [InlineData("/docker/" + Id, null, Id, "docker", null)]
    [InlineData("/machine.slice/libpod-" + Id + ".scope/container", null, Id, "podman", null)]
    // Rootless Podman: the user's service manager is the unit above the container.
    [InlineData("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + Id + ".scope", "user@1000.service", Id, "podman", null)]
    [InlineData("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-" + Id + ".scope",
        null, Id, "containerd", "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901")]
    [InlineData("/kubepods.slice/kubepods-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/crio-" + Id + ".scope",
        null, Id, "cri-o", "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901")]
    [InlineData("/kubepods/besteffort/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901/" + Id, null, Id, "cri", "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901")]
    [InlineData("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice",
        null, null, null, "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901")]
    [InlineData("/", null, null, null, null)]
    [InlineData("/fm-local.slice/redis.service", "redis.service", null, null, null)]
    public void Each_layout_names_its_unit_container_and_pod(string path, string? unit, string? container, string? runtime, string? pod)
    {
        var w = CgroupPaths.Parse(path);
        Assert.Equal((path, unit, container, runtime, pod), (w.Path, w.Unit, w.ContainerId, w.ContainerRuntime, w.PodUid));
    }

    [Fact]
    public void A_unified_host_gives_the_v2_line()
    {
        Assert.Equal("/system.slice/ssh.service", CgroupPaths.FromProcCgroup("0::/system.slice/ssh.service\n"));
    }

    [Fact]
    public void A_hybrid_host_whose_v2_line_is_the_root_gives_systemds_own_hierarchy()
    {
        // A v1/v2 hybrid (systemd's "hybrid" mode): the controllers on v1, the unified hierarchy unused.
        const string Hybrid = "12:memory:/system.slice/nginx.service\n11:cpu,cpuacct:/system.slice/nginx.service\n1:name=systemd:/system.slice/nginx.service\n0::/\n";
        Assert.Equal("/system.slice/nginx.service", CgroupPaths.FromProcCgroup(Hybrid));
        Assert.Null(CgroupPaths.FromProcCgroup("garbage"));
    }

    [Fact]
    public void The_name_is_the_container_else_the_unit_else_the_path()
    {
        Assert.Equal("docker:4f1c2d9e8b7a", CgroupPaths.Parse("/system.slice/docker-" + Id + ".scope").Name);
        Assert.Equal("redis-server.service", CgroupPaths.Parse("/system.slice/redis-server.service").Name);
        Assert.Equal("/fm-test/x", CgroupPaths.Parse("/fm-test/x").Name);
    }
}
