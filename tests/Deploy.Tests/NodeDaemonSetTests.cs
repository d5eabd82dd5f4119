using System.Globalization;
using FlowMesh.Deploy.Tests.Support;

namespace FlowMesh.Deploy.Tests;

/// <summary>The Node's DaemonSet gives it what CaptureRequirements checks at start, on every node.</summary>
public sealed class NodeDaemonSetTests
{
    private static readonly RoleContainer Node = RoleContainer.Of(Role.Node);

    private static YamlValue PodSpec => Node.Workload.PodSpec;

    [Fact]
    public void Runs_as_a_DaemonSet_on_every_node_with_the_node_name_as_host_id()
    {
        Assert.Equal("DaemonSet", Node.Workload.Kind);
        Assert.Contains(PodSpec["tolerations"].Items, t => t["operator"].Text == "Exists" && !t["key"].Exists && !t["effect"].Exists);
        Assert.Equal("$(fieldRef:spec.nodeName)", Node.Settings["Node:HostId"]);
    }

    [Fact]
    public void Uses_the_host_network_and_still_resolves_Service_names()
    {
        Assert.True(PodSpec["hostNetwork"].IsTrue, "without the host's network the Node's socket walk sees only its pod");
        // The kernel names a connection's process by its host pid; the runtime monitor reads /proc/PID.
        Assert.True(PodSpec["hostPID"].IsTrue, "without the host's pids the runtime monitor finds no process the kernel names");
        var redisHost = (Node.Settings["Cluster:Redis"] ?? "").Split(',')[0].Split(':')[0];
        if (!System.Net.IPAddress.TryParse(redisHost, out _))
            Assert.Equal("ClusterFirstWithHostNet", PodSpec["dnsPolicy"].Text);
    }

    [Fact]
    public void Has_the_capabilities_the_capture_checks_for()
    {
        // If CaptureRequirements starts checking another capability, the grants here need a look.
        Assert.Equal(["Bpf", "NetAdmin", "Perfmon", "SysAdmin"], Code.CapabilityConstants.Order(StringComparer.Ordinal));

        var security = Node.Container["securityContext"];
        // Root with only the capabilities the capture needs, as deploy/README.md and the README promise.
        Assert.False(security["privileged"].IsTrue, "the Node runs privileged, but only three capabilities are promised");
        var added = security.At("capabilities.add").Strings.ToList();
        Assert.True(Code.CaptureCanStart(added), $"capabilities {string.Join(", ", added)} do not pass CaptureRequirements");
        // Kubernetes gives added capabilities to the effective set of uid 0 only.
        Assert.Equal(0, security["runAsUser"].Int ?? PodSpec.At("securityContext.runAsUser").Int);
        // A Node that must enter other namespaces (setns) would need CAP_SYS_ADMIN; "all" does not.
        Assert.Equal("all", Node.Settings["Node:Netns"]);
    }

    [Fact]
    public void Its_liveness_probe_checks_the_file_the_Node_touches_in_a_writable_directory()
    {
        var alive = Node.Settings["Node:AliveFile"];
        Assert.False(string.IsNullOrEmpty(alive), "Node:AliveFile is not set, so the probe has nothing to check");
        var command = string.Join(" ", Node.Container.At("livenessProbe.exec.command").Strings);
        Assert.Contains($"find {alive} -mmin", command, StringComparison.Ordinal);
        // The root filesystem is read-only: the file's directory must be a volume of its own.
        var directory = Path.GetDirectoryName(alive)!;
        Assert.Contains(Node.Container["volumeMounts"].Items, m => m["mountPath"].Text == directory && !m["readOnly"].IsTrue);
    }

    [Fact]
    public void Mounts_kernel_BTF_and_the_host_cgroup_hierarchy_read_only()
    {
        var btfDirectory = Path.GetDirectoryName(Code.BtfPath)!.Replace('\\', '/');
        AssertHostMount(btfDirectory, btfDirectory);
        // The Node attaches sock_ops at the first cgroup2 mount in /proc/mounts, which in a
        // container is the runtime's own, at /sys/fs/cgroup: the host's must lie over it.
        AssertHostMount("/sys/fs/cgroup", "/sys/fs/cgroup");
        // libbpf reads the accept() tracepoints' ids in tracefs (Node/Kernel/Tracefs.cs), which a container cannot mount.
        AssertHostMount("/sys/kernel/tracing", "/sys/kernel/tracing");

        foreach (var mount in Node.Container["volumeMounts"].Items)
        {
            var volume = Volume(mount["name"].Text);
            if (volume?["hostPath"].Exists == true)
                Assert.True(mount["readOnly"].IsTrue, $"host path {volume.At("hostPath.path")} is mounted writable");
        }
    }

    [Fact]
    public void Has_a_writable_volume_where_a_verifier_log_goes()
    {
        // On a read-only root filesystem the Node cannot make /var/log/flowmesh, so it makes a
        // private directory in the temporary directory: one of the two must be a volume.
        Assert.True(Node.Container.At("securityContext.readOnlyRootFilesystem").IsTrue, "the Node's root filesystem is writable; these manifests keep it read-only");
        var writable = Node.Container["volumeMounts"].Items.Where(m => !m["readOnly"].IsTrue).Select(m => m["mountPath"].Text).ToList();
        var directory = new[] { Code.VerifierLogDirectory, "/tmp" }.FirstOrDefault(writable.Contains);
        Assert.True(directory is not null, $"neither {Code.VerifierLogDirectory} nor /tmp is a writable volume: a verifier log could not be saved");
        // An emptyDir outlives a container restart, so the log is still there after the kubelet restarts the Node.
        var mount = Node.Container["volumeMounts"].Items.First(m => m["mountPath"].Text == directory);
        Assert.True(Volume(mount["name"].Text)?["emptyDir"].Exists == true, $"{directory} is not an emptyDir");
    }

    [Fact]
    public void Every_workload_gives_the_process_longer_to_stop_than_its_shutdown_timeout()
    {
        var timeout = Code.ShutdownTimeout;
        foreach (var c in RoleContainer.All)
        {
            var grace = c.Workload.PodSpec["terminationGracePeriodSeconds"].Int ?? 30;
            Assert.True(TimeSpan.FromSeconds(grace) > timeout,
                $"{c.Workload}: terminationGracePeriodSeconds {grace.ToString(CultureInfo.InvariantCulture)} leaves no time past the {timeout.TotalSeconds} s shutdown timeout");
        }
    }

    private static void AssertHostMount(string hostPath, string mountPath)
    {
        var mount = Node.Container["volumeMounts"].Items.SingleOrDefault(m => m["mountPath"].Text == mountPath);
        Assert.True(mount is not null, $"nothing is mounted at {mountPath}");
        var volume = Volume(mount!["name"].Text);
        Assert.Equal(hostPath, volume?.At("hostPath.path").Text);
        Assert.True(mount["readOnly"].IsTrue, $"{mountPath} is mounted writable");
    }

    private static YamlValue? Volume(string? name) => PodSpec["volumes"].Items.SingleOrDefault(v => v["name"].Text == name);
}
