using FlowMesh.Deploy.Tests.Support;

namespace FlowMesh.Deploy.Tests;

/// <summary>
/// The NetworkPolicies: nothing reaches a pod of the namespace unless a policy lets it;
/// Redis and the Aggregators' cluster port take FlowMesh's own pods only, on their own
/// ports; the gateway takes any pod of the cluster.
/// </summary>
public sealed class NetworkPolicyTests
{
    private static readonly Manifests M = Manifests.Instance;

    private static KubeObject Aggregator => RoleContainer.Of(Role.Aggregator).Workload;

    private static KubeObject NodeWorkload => RoleContainer.Of(Role.Node).Workload;

    /// <summary>The workloads that are cluster members.</summary>
    private static HashSet<KubeObject> Members => [.. RoleContainer.All.Select(c => c.Workload)];

    /// <summary>One ingress rule of a policy, with the ports it opens resolved against the selected pods' containers.</summary>
    private sealed record Rule(KubeObject Policy, YamlValue Ingress, IReadOnlyList<int?> Ports)
    {
        public IEnumerable<YamlValue> Peers => Ingress["from"].Items;

        public override string ToString() => $"{Policy.Kind}/{Policy.Name}";
    }

    private static List<Rule> RulesFor(KubeObject workload)
    {
        var containers = workload.Containers.ToList();
        return [.. M.PoliciesFor(workload).SelectMany(policy => policy.Document.At("spec.ingress").Items.Select(ingress =>
            new Rule(policy, ingress, [.. ingress["ports"].Items.Select(p =>
                containers.Select(c => Manifests.ResolvePort(c, p["port"])).FirstOrDefault(n => n is not null))])))];
    }

    [Fact]
    public void Ingress_is_denied_to_every_pod_of_the_namespace_unless_a_policy_allows_it()
    {
        var defaultDeny = M.NetworkPolicies.Where(p =>
            LabelSelector.IsEverything(p.Document.At("spec.podSelector"))
            && p.Document.At("spec.policyTypes").Strings.Contains("Ingress")
            && !p.Document.At("spec.ingress").Items.Any()).ToList();
        Assert.True(defaultDeny.Count == 1, "no NetworkPolicy selects every pod ({}) with policyTypes Ingress and no ingress rule");
        // Any other policy that selected every pod would open its ports on all of them.
        foreach (var policy in M.NetworkPolicies.Except(defaultDeny))
            Assert.False(LabelSelector.IsEverything(policy.Document.At("spec.podSelector")), $"{policy} opens ports on every pod of the namespace");
    }

    [Fact]
    public void Every_policy_selects_pods_that_exist_and_none_the_Nodes_which_no_policy_can_guard()
    {
        var policies = M.NetworkPolicies.ToList();
        Assert.True(policies.Count >= 3, "expected a default deny and policies for Redis and the Aggregator");
        foreach (var policy in policies)
        {
            Assert.Equal("networking.k8s.io/v1", policy.Document["apiVersion"].Text);
            var selector = policy.Document.At("spec.podSelector");
            Assert.True(selector.IsMapping, $"{policy} has no podSelector");
            if (LabelSelector.IsEverything(selector))
                continue;
            var selected = M.WorkloadsSelectedBy(selector).ToList();
            Assert.True(selected.Count > 0, $"{policy} selects no pod of these manifests (a label typo?)");
            // A pod on the host's network is outside every NetworkPolicy: a policy for it would promise nothing.
            Assert.True(selected.All(w => !w.PodSpec["hostNetwork"].IsTrue), $"{policy} selects pods on the host's network, which it cannot guard");
        }
        Assert.True(NodeWorkload.PodSpec["hostNetwork"].IsTrue, "the Node left the host's network: its cluster port could now have a policy of its own");
    }

    [Fact]
    public void Redis_takes_connections_from_the_members_only_on_its_port()
    {
        var redis = M.Single("StatefulSet", "redis");
        var port = Manifests.ResolvePort(Assert.Single(redis.Containers), Assert.Single(M.Single("Service", "redis").Document.At("spec.ports").Items)["targetPort"]);
        Assert.NotNull(port);
        var rules = RulesFor(redis);
        Assert.True(rules.Count > 0, "no NetworkPolicy lets anything reach Redis");
        var admitted = new HashSet<KubeObject>();
        foreach (var rule in rules)
        {
            Assert.True(rule.Ports.Count > 0, $"{rule} opens every port of Redis");
            Assert.True(rule.Ports.All(p => p == port), $"{rule} opens ports {string.Join(", ", rule.Ports)} of Redis, which listens on {port} only (or names a port it does not have)");
            admitted.UnionWith(AssertMembersOnly(rule));
        }
        Assert.True(admitted.SetEquals(Members), $"Redis admits {string.Join(", ", admitted)}; every member needs it");
    }

    [Fact]
    public void The_Aggregators_cluster_port_takes_the_members_only_and_the_gateway_any_pod_of_the_cluster()
    {
        var aggregator = RoleContainer.Of(Role.Aggregator);
        var cluster = int.Parse(aggregator.Settings["Cluster:Port"]!, System.Globalization.CultureInfo.InvariantCulture);
        var gateway = int.Parse(aggregator.Settings["Gateway:Port"]!, System.Globalization.CultureInfo.InvariantCulture);
        var rules = RulesFor(Aggregator);
        Assert.True(rules.Count > 0, "no NetworkPolicy lets anything reach the Aggregator");

        var clusterAdmits = new HashSet<KubeObject>();
        var gatewayFromEverywhere = false;
        foreach (var rule in rules)
        {
            Assert.True(rule.Ports.Count > 0, $"{rule} opens every port of the Aggregator");
            foreach (var port in rule.Ports)
                Assert.True(port == cluster || port == gateway, $"{rule} opens port {port?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(a name the container does not have)"}, which the Aggregator does not serve");
            if (rule.Ports.Contains(cluster))
                clusterAdmits.UnionWith(AssertMembersOnly(rule));
            else
                gatewayFromEverywhere |= rule.Peers.Any(p => LabelSelector.IsEverything(p["namespaceSelector"]) && !p["podSelector"].Exists);
        }
        Assert.True(clusterAdmits.SetEquals(Members), $"the Aggregators' cluster port admits {string.Join(", ", clusterAdmits)}; every member needs it");
        Assert.True(gatewayFromEverywhere, "the gateway is not open to every pod of the cluster (namespaceSelector: {}); it asks for a token itself");
    }

    [Fact]
    public void The_policies_explain_why_the_Nodes_need_an_address_rule()
    {
        // The Nodes' connections come from their hosts' addresses: the file says how to let them in.
        var text = File.ReadAllText(Path.Combine(M.Directory, "network-policies.yaml"));
        Assert.Contains("ipBlock", text, StringComparison.Ordinal);
        Assert.Contains("host's network", text, StringComparison.Ordinal);
        var readme = Repo.Read("deploy", "README.md");
        Assert.Contains("ipBlock", readme, StringComparison.Ordinal);
    }

    /// <summary>Asserts every peer of the rule is a podSelector of this namespace picking members only; returns the members it admits.</summary>
    private static HashSet<KubeObject> AssertMembersOnly(Rule rule)
    {
        var peers = rule.Peers.ToList();
        Assert.True(peers.Count > 0, $"{rule} admits every source (no from:)");
        var admitted = new HashSet<KubeObject>();
        foreach (var peer in peers)
        {
            Assert.False(peer["namespaceSelector"].Exists, $"{rule} admits pods of other namespaces");
            if (peer["ipBlock"].Exists)
            {
                // The documented edit for the Nodes' hosts: a range of node addresses, never all of them.
                var cidr = peer.At("ipBlock.cidr").Text;
                Assert.False(cidr is null or "0.0.0.0/0" or "::/0", $"{rule} admits every address ({cidr})");
                continue;
            }
            var selector = peer["podSelector"];
            Assert.True(selector.IsMapping && !LabelSelector.IsEverything(selector), $"{rule} admits every pod of the namespace");
            var selected = M.WorkloadsSelectedBy(selector).ToList();
            foreach (var workload in selected)
                Assert.True(Members.Contains(workload), $"{rule} admits {workload}, which is not a cluster member");
            admitted.UnionWith(selected);
        }
        return admitted;
    }
}
