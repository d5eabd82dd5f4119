using System.Net;
using FlowMesh.Deploy.Tests.Support;

namespace FlowMesh.Deploy.Tests;

/// <summary>Ports, addresses and endpoints: what one process dials is what another listens on.</summary>
public sealed class PortTests
{
    private static readonly Manifests M = Manifests.Instance;

    private static int SettingPort(RoleContainer c, string key)
    {
        var text = c.Settings[key];
        Assert.True(int.TryParse(text, out var port), $"{c}: {key} is '{text}', not a port");
        return port;
    }

    private static IEnumerable<int> ContainerPorts(YamlValue container) =>
        container["ports"].Items.Select(p => p["containerPort"].Int).OfType<int>();

    [Fact]
    public void Gateway_port_agrees_across_settings_container_and_service()
    {
        var aggregator = RoleContainer.Of(Role.Aggregator);
        var port = SettingPort(aggregator, "Gateway:Port");
        Assert.NotEqual(0, port); // 0 would be any free port: nothing could point at it
        Assert.Contains(port, ContainerPorts(aggregator.Container));

        var services = M.ServicesFor(aggregator.Workload).ToList();
        Assert.True(services.Count > 0, $"no Service selects {aggregator.Workload}");
        foreach (var service in services)
        {
            foreach (var servicePort in service.Document.At("spec.ports").Items)
            {
                var target = servicePort["targetPort"].Exists ? servicePort["targetPort"] : servicePort["port"];
                Assert.Equal(port, Manifests.ResolvePort(aggregator.Container, target));
            }
        }
    }

    [Fact]
    public void Gateway_listens_beyond_loopback_only_with_a_token_from_a_Secret_the_README_creates()
    {
        var aggregator = RoleContainer.Of(Role.Aggregator);
        var address = aggregator.Settings["Gateway:Address"];
        Assert.True(IPAddress.TryParse(address, out var ip), $"Gateway:Address '{address}' is not an IP address");
        Assert.False(IPAddress.IsLoopback(ip), "a gateway on loopback cannot be reached through its Service");

        // GatewaySettings refuses to start off loopback without Gateway:Token.
        var token = aggregator.Container["env"].Items.SingleOrDefault(e => Settings.EnvKey(e["name"].Text ?? "") is { } k && k.Equals("Gateway:Token", StringComparison.OrdinalIgnoreCase));
        Assert.True(token is not null, "the Aggregator's gateway listens beyond loopback but no env var sets Gateway:Token");
        var secret = token!.At("valueFrom.secretKeyRef");
        Assert.True(secret.Exists, "the gateway token must come from a Secret, not from the manifest");
        var secretName = secret["name"].Text;
        var secretKey = secret["key"].Text;
        Assert.DoesNotContain(M.Objects, o => o.Kind == "Secret" && o.Name == secretName);

        var readme = Repo.Read("deploy", "README.md");
        Assert.Contains($"create secret generic {secretName} --from-literal={secretKey}=", readme, StringComparison.Ordinal);
        var service = Assert.Single(M.ServicesFor(aggregator.Workload));
        Assert.Contains($"port-forward svc/{service.Name} ", readme, StringComparison.Ordinal);
    }

    [Fact]
    public void Probes_use_paths_the_gateway_serves_without_a_token()
    {
        var aggregator = RoleContainer.Of(Role.Aggregator);
        var served = Code.GatewayRoutes("ClusterEndpoints.cs");
        var open = Code.OpenPaths;
        var gatewayPort = SettingPort(aggregator, "Gateway:Port");
        var probes = new[] { "readinessProbe", "livenessProbe" }.Select(p => (Name: p, Probe: aggregator.Container[p])).ToList();
        foreach (var (name, probe) in probes)
        {
            var path = probe.At("httpGet.path").Text;
            Assert.True(path is not null, $"the Aggregator has no HTTP {name}");
            Assert.Contains(path, served);
            Assert.Contains(path, open);
            Assert.Equal(gatewayPort, Manifests.ResolvePort(aggregator.Container, probe.At("httpGet.port")));
        }
        // Ready means Redis answers and the Aggregator is a member: the right gate for the Service.
        Assert.Equal("/readyz", aggregator.Container.At("readinessProbe.httpGet.path").Text);
    }

    [Fact]
    public void Cluster_ports_are_fixed_and_declared_by_each_container()
    {
        foreach (var c in RoleContainer.All)
        {
            var port = SettingPort(c, "Cluster:Port");
            Assert.True(port > 0, $"{c}: Cluster:Port 0 picks any free port, which no pod spec can declare");
            Assert.Contains(port, ContainerPorts(c.Container));
        }
    }

    [Fact]
    public void Cluster_members_bind_beyond_loopback_and_advertise_an_address_others_can_dial()
    {
        foreach (var c in RoleContainer.All)
        {
            var bind = c.Settings["Cluster:BindAddress"] ?? "";
            var advertised = c.Settings["Cluster:AdvertisedAddress"];
            Assert.False(IPAddress.TryParse(bind, out var ip) && IPAddress.IsLoopback(ip), $"{c}: Cluster:BindAddress {bind} is loopback: no other member can reach it");
            var wildcard = bind is "0.0.0.0" or "::";
            Assert.False(wildcard && string.IsNullOrEmpty(advertised), $"{c}: binds {bind} and advertises nothing, so others would dial {bind}");
            if (!string.IsNullOrEmpty(advertised))
                Assert.Equal("$(fieldRef:status.podIP)", advertised);
        }
    }

    [Fact]
    public void Redis_in_the_settings_is_the_Redis_Service_and_its_port()
    {
        var service = M.Single("Service", "redis");
        var statefulSet = M.Single("StatefulSet", "redis");
        Assert.Contains(service, M.ServicesFor(statefulSet));
        var redis = Assert.Single(statefulSet.Containers);
        var servicePort = Assert.Single(service.Document.At("spec.ports").Items);
        var target = Manifests.ResolvePort(redis, servicePort["targetPort"].Exists ? servicePort["targetPort"] : servicePort["port"]);
        Assert.Contains(target!.Value, ContainerPorts(redis));

        foreach (var c in RoleContainer.All)
        {
            // StackExchange.Redis syntax: host:port, then options after commas.
            var endpoint = (c.Settings["Cluster:Redis"] ?? "").Split(',')[0];
            var colon = endpoint.LastIndexOf(':');
            Assert.True(colon > 0, $"{c}: Cluster:Redis '{endpoint}' has no port");
            var host = endpoint[..colon];
            Assert.True(host == service.Name || host.StartsWith(service.Name + ".", StringComparison.Ordinal),
                $"{c}: Cluster:Redis host {host} is not the Service {service.Name} (or its DNS name)");
            Assert.Equal(servicePort["port"].Int, int.Parse(endpoint[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public void Redis_keeps_its_data_on_a_persistent_volume_with_the_append_only_file_on()
    {
        var statefulSet = M.Single("StatefulSet", "redis");
        var redis = Assert.Single(statefulSet.Containers);
        var args = redis["args"].Strings.Concat(redis["command"].Strings).ToList();
        var i = args.IndexOf("--appendonly");
        Assert.True(i >= 0 && i + 1 < args.Count && args[i + 1] == "yes", "Redis runs without --appendonly yes");
        var claims = statefulSet.Document.At("spec.volumeClaimTemplates").Items.Select(c => c.At("metadata.name").Text).ToList();
        var dataMount = redis["volumeMounts"].Items.SingleOrDefault(m => m["mountPath"].Text == "/data");
        Assert.True(dataMount is not null, "nothing is mounted at /data, where the Redis image keeps its files");
        Assert.Contains(dataMount!["name"].Text, claims);
    }

    /// <summary>
    /// deploy/prometheus/kubernetes.yml keeps the Aggregator pods' gateway port. Debian's
    /// Prometheus has no Kubernetes discovery and no API server runs here, so the file is held
    /// to the manifests instead (PrometheusTests runs local.yml in a real Prometheus).
    /// </summary>
    [Fact]
    public void The_Prometheus_scrape_config_keeps_every_Aggregator_pods_gateway_port_with_the_token()
    {
        var job = YamlValue.LoadAll(Repo.PathOf("deploy", "prometheus", "kubernetes.yml")).Single()["scrape_configs"].Items.Single();
        Assert.Equal("/metrics", job["metrics_path"].Text);
        Assert.Equal("Bearer", job.At("authorization.type").Text);
        Assert.Equal("pod", job["kubernetes_sd_configs"].Items.Single()["role"].Text);
        Assert.Contains("flowmesh", job["kubernetes_sd_configs"].Items.Single().At("namespaces.names").Strings);
        var keeps = job["relabel_configs"].Items.Where(r => r["action"].Text == "keep")
            .ToDictionary(r => r["source_labels"].Strings.Single(), r => r["regex"].Text!, StringComparer.Ordinal);

        var aggregator = RoleContainer.Of(Role.Aggregator);
        // Prometheus spells a pod label's name with every character outside [a-zA-Z0-9_] as '_'.
        var label = keeps.Single(k => k.Key.StartsWith("__meta_kubernetes_pod_label_", StringComparison.Ordinal));
        var pods = aggregator.Workload.PodLabels.Where(l => "__meta_kubernetes_pod_label_" + System.Text.RegularExpressions.Regex.Replace(l.Key, "[^a-zA-Z0-9_]", "_") == label.Key).ToList();
        Assert.True(pods.Count == 1 && pods[0].Value == label.Value, $"no Aggregator pod label matches {label.Key}={label.Value}");
        Assert.DoesNotContain(M.Workloads, w => w != aggregator.Workload && w.PodLabels.Any(l => l.Value == label.Value));
        var port = aggregator.Container["ports"].Items.Single(p => p["name"].Text == keeps["__meta_kubernetes_pod_container_port_name"]);
        Assert.Equal(SettingPort(aggregator, "Gateway:Port"), port["containerPort"].Int);
    }
}
