using FlowMesh.Deploy.Tests.Support;

namespace FlowMesh.Deploy.Tests;

/// <summary>
/// What the pods may do: fixed images, API tokens only where the API is read (and then
/// read-only, pods and Services), and Pod Security labels no wider
/// than the Node needs (the Node alone needs "privileged"; everything else meets
/// "restricted", so the namespace's warnings name only the Node).
/// </summary>
public sealed class PodSecurityTests
{
    private static readonly Manifests M = Manifests.Instance;

    private static readonly HashSet<string> RestrictedVolumeTypes =
        ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

    /// <summary>The capabilities the baseline level lets a container add.</summary>
    private static readonly HashSet<string> BaselineCapabilities =
        ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"];

    [Fact]
    public void Every_image_is_pinned_by_a_tag_or_digest_and_none_is_latest()
    {
        var containers = M.Workloads.SelectMany(w => w.AllContainers.Select(c => (w, c))).ToList();
        Assert.NotEmpty(containers);
        foreach (var (workload, container) in containers)
        {
            var image = M.RenderedImage(container["image"].Text ?? "");
            var name = RoleContainer.ImageName(image);
            var pinned = image.Length > name.Length ? image[name.Length..] : "";
            Assert.True(pinned.StartsWith(':') || pinned.StartsWith('@'),
                $"{workload} container {container["name"]} runs {image}: no tag, so every node pulls whatever 'latest' is that day");
            Assert.False(pinned.Equals(":latest", StringComparison.Ordinal), $"{workload} container {container["name"]} runs {image}, which changes under it");
        }
        foreach (var entry in M.Kustomization["images"].Items)
            Assert.False(entry["newTag"].Text == "latest", $"kustomization.yaml images: {entry["name"]} is retagged to latest");
    }

    [Fact]
    public void The_Redis_image_is_a_full_release_not_a_moving_major_version()
    {
        var redis = Assert.Single(M.Single("StatefulSet", "redis").Containers);
        var image = M.RenderedImage(redis["image"].Text ?? "");
        // redis:7 follows every 7.x release; 7.2.5 is one build.
        Assert.Matches(@"^(.+/)?redis:\d+\.\d+\.\d+([-.][\w.]+)?$|@sha256:", image);
    }

    [Fact]
    public void Only_the_Node_and_the_Aggregator_mount_a_token_and_their_roles_only_read_pods_and_services()
    {
        var workloads = M.Workloads.ToList();
        Assert.Equal(3, workloads.Count);
        var redis = M.Single("StatefulSet", "redis");
        Assert.True(redis.PodSpec["automountServiceAccountToken"].IsFalse, "Redis would mount an API token it never uses");
        // What the watches ask (Kubernetes/KubernetesWatches.cs): the Node its node's pods, the Aggregator every pod and Service.
        var wanted = new Dictionary<Role, string[]> { [Role.Node] = ["pods:get,list,watch"], [Role.Aggregator] = ["pods:list,watch", "services:list,watch"] };
        foreach (var (role, grants) in wanted)
        {
            var workload = RoleContainer.Of(role).Workload;
            Assert.False(workload.PodSpec["automountServiceAccountToken"].IsFalse, $"{workload} watches the API: it needs its token");
            var account = workload.PodSpec["serviceAccountName"].Text ?? "";
            Assert.Contains(M.Objects, o => o.Kind == "ServiceAccount" && o.Name == account);
            var binding = Assert.Single(M.Objects, o => o.Kind == "ClusterRoleBinding" && o.Document["subjects"].Items.Any(x => x["name"].Text == account));
            Assert.Equal(M.Kustomization["namespace"].Text, Assert.Single(binding.Document["subjects"].Items)["namespace"].Text);
            var clusterRole = M.Single("ClusterRole", binding.Document.At("roleRef.name").Text ?? "");
            var rules = clusterRole.Document["rules"].Items.SelectMany(r =>
            {
                Assert.Equal([""], r["apiGroups"].Strings);
                return r["resources"].Strings.Select(res => $"{res}:{string.Join(',', r["verbs"].Strings)}");
            });
            Assert.Equal(grants, rules.Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public void The_namespace_enforces_privileged_and_warns_and_audits_at_restricted()
    {
        var ns = M.Single("Namespace", M.Kustomization["namespace"].Text ?? "");
        var labels = ns.Document.At("metadata.labels");
        Assert.Equal("privileged", labels["pod-security.kubernetes.io/enforce"].Text);
        Assert.Equal("restricted", labels["pod-security.kubernetes.io/warn"].Text);
        Assert.Equal("restricted", labels["pod-security.kubernetes.io/audit"].Text);
    }

    [Fact]
    public void Only_the_Node_needs_more_than_restricted_and_it_needs_privileged()
    {
        var node = RoleContainer.Of(Role.Node).Workload;
        // If the Node ever met baseline, the namespace could enforce that instead.
        Assert.NotEmpty(BaselineViolations(node));
        foreach (var workload in M.Workloads.Where(w => w != node))
        {
            var violations = RestrictedViolations(workload).ToList();
            Assert.True(violations.Count == 0, $"{workload} does not meet the restricted level: {string.Join("; ", violations)}");
        }
    }

    /// <summary>What the baseline Pod Security level refuses in a workload (the checks that apply to these manifests).</summary>
    private static IEnumerable<string> BaselineViolations(KubeObject workload)
    {
        var pod = workload.PodSpec;
        foreach (var host in new[] { "hostNetwork", "hostPID", "hostIPC" })
        {
            if (pod[host].IsTrue)
                yield return $"{host}: true";
        }
        foreach (var volume in pod["volumes"].Items.Where(v => v["hostPath"].Exists))
            yield return $"hostPath volume {volume["name"]}";
        if (pod.At("securityContext.seccompProfile.type").Text == "Unconfined")
            yield return "pod seccomp Unconfined";
        foreach (var container in workload.AllContainers)
        {
            var security = container["securityContext"];
            if (security["privileged"].IsTrue)
                yield return $"{container["name"]}: privileged";
            foreach (var capability in security.At("capabilities.add").Strings.Where(c => !BaselineCapabilities.Contains(c)))
                yield return $"{container["name"]}: adds {capability}";
            if (security.At("seccompProfile.type").Text == "Unconfined")
                yield return $"{container["name"]}: seccomp Unconfined";
            if (security.At("appArmorProfile.type").Text == "Unconfined")
                yield return $"{container["name"]}: AppArmor Unconfined";
            if (container["ports"].Items.Any(p => p["hostPort"].Exists))
                yield return $"{container["name"]}: hostPort";
        }
    }

    /// <summary>What the restricted level refuses: baseline's refusals and its own.</summary>
    private static IEnumerable<string> RestrictedViolations(KubeObject workload)
    {
        foreach (var violation in BaselineViolations(workload))
            yield return violation;
        var pod = workload.PodSpec;
        foreach (var volume in pod["volumes"].Items)
        {
            var type = volume.Entries.Select(e => e.Key).FirstOrDefault(k => k != "name");
            if (type is not null && !RestrictedVolumeTypes.Contains(type))
                yield return $"volume {volume["name"]} of type {type}";
        }
        var podNonRoot = pod.At("securityContext.runAsNonRoot").IsTrue;
        var podSeccomp = pod.At("securityContext.seccompProfile.type").Text;
        foreach (var container in workload.AllContainers)
        {
            var security = container["securityContext"];
            var name = container["name"].Text;
            if (!security["allowPrivilegeEscalation"].IsFalse)
                yield return $"{name}: allowPrivilegeEscalation is not false";
            if (!(security["runAsNonRoot"].IsTrue || (podNonRoot && !security["runAsNonRoot"].IsFalse)))
                yield return $"{name}: runAsNonRoot is not true";
            if ((security["runAsUser"].Int ?? pod.At("securityContext.runAsUser").Int) == 0)
                yield return $"{name}: runAsUser 0";
            var seccomp = security.At("seccompProfile.type").Text ?? podSeccomp;
            if (seccomp is not ("RuntimeDefault" or "Localhost"))
                yield return $"{name}: seccomp profile {seccomp ?? "unset"}";
            if (!security.At("capabilities.drop").Strings.Contains("ALL"))
                yield return $"{name}: does not drop ALL capabilities";
            foreach (var capability in security.At("capabilities.add").Strings.Where(c => c != "NET_BIND_SERVICE"))
                yield return $"{name}: adds {capability}";
        }
    }
}
