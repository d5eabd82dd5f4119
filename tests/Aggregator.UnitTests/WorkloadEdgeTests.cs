using FlowMesh.Aggregator.Sessions;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Identity;
using FlowMesh.Contracts.Messages;
using FlowMesh.Kubernetes;
using k8s;
using k8s.Models;

namespace FlowMesh.Aggregator.UnitTests;

/// <summary>Edges named by workload (issue 17): the names, the pod owners, the address history and the join's ends.</summary>
public sealed class WorkloadEdgeTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.Parse("2026-12-01T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("/system.slice/redis-server.service", "redis-server.service", "", "", "", "redis-server.service")]
    [InlineData("/user.slice/user-0.slice/session-3.scope", "session-3.scope", "", "", "", null)]
    [InlineData("/user.slice/user-1000.slice/user@1000.service", "user@1000.service", "", "", "", null)]
    [InlineData("/system.slice/docker-0123456789abcdef.scope", "", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker", "", "docker:0123456789ab")]
    [InlineData("/kubepods/besteffort/pod1/x", "", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "cri", "shop", "shop/cart")]
    public void A_workload_is_named_by_its_most_specific_part(string cgroup, string unit, string container, string runtime, string ns, string? expected)
    {
        var w = new Workload { Cgroup = cgroup, Unit = unit, ContainerId = container, ContainerRuntime = runtime, Namespace = ns, Pod = ns.Length > 0 ? "cart-0" : "", Owner = ns.Length > 0 ? "cart" : "" };
        Assert.Equal(expected, WorkloadNames.Of(w));
    }

    [Fact]
    public void A_pod_of_a_ReplicaSet_is_owned_by_its_Deployment_and_a_bare_pod_by_nobody()
    {
        var deployed = PodInfo.From(Pod("u1", "frontend-7d4b9c8f5-x2x9k", "ReplicaSet", "frontend-7d4b9c8f5", "10.244.0.5", hash: "7d4b9c8f5"))!;
        Assert.Equal(("Deployment", "frontend", "shop/frontend"), (deployed.OwnerKind, deployed.Owner, deployed.Workload));
        // A ReplicaSet whose name does not end in the pod's template hash was not made by a Deployment.
        var replicaSet = PodInfo.From(Pod("u2", "batch-abcde", "ReplicaSet", "batch", "10.244.0.6", hash: "7d4b9c8f5"))!;
        Assert.Equal(("ReplicaSet", "batch"), (replicaSet.OwnerKind, replicaSet.Owner));
        var bare = PodInfo.From(Pod("u3", "debug", null, null, "10.244.0.7"))!;
        Assert.Equal((null, "shop/debug"), (bare.OwnerKind, bare.Workload));
    }

    [Fact]
    public void An_address_that_moves_between_pods_names_each_flow_by_the_pod_that_held_it_then()
    {
        var clock = new ManualClock(T0);
        var history = new PodAddressHistory(new KubernetesSettings(), clock);
        var old = Pod("old", "billing-1", "StatefulSet", "billing", "10.244.1.7", started: T0.AddMinutes(-30));
        history.Replace([old]);
        clock.Now = T0.AddMinutes(10);
        history.Apply(WatchEventType.Deleted, old);
        // The new pod's startTime is before the old one left: it held the address only after.
        history.Apply(WatchEventType.Added, Pod("new", "ledger-1", "StatefulSet", "ledger", "10.244.1.7", started: T0.AddMinutes(5)));

        Assert.Equal("shop/billing", history.At("10.244.1.7", T0.AddMinutes(7).ToUnixTimeMilliseconds())?.Workload);
        Assert.Equal("shop/ledger", history.At("10.244.1.7", T0.AddMinutes(11).ToUnixTimeMilliseconds())?.Workload);
        Assert.Null(history.At("10.244.1.7", T0.AddHours(-1).ToUnixTimeMilliseconds()));
        Assert.Null(history.At("10.244.9.9", T0.ToUnixTimeMilliseconds()));
    }

    [Fact]
    public void Host_network_pods_name_no_address_and_a_full_history_sheds_the_oldest_ended_tenancy()
    {
        var clock = new ManualClock(T0);
        var history = new PodAddressHistory(new KubernetesSettings { MaxPods = 2 }, clock);
        var hostNet = Pod("h", "node-exporter-x", "DaemonSet", "node-exporter", "192.168.49.2");
        hostNet.Spec.HostNetwork = true;
        history.Apply(WatchEventType.Added, hostNet);
        Assert.Equal(0, history.Count);

        var a = Pod("a", "a-0", "StatefulSet", "a", "10.0.0.1", started: T0);
        history.Apply(WatchEventType.Added, a);
        history.Apply(WatchEventType.Added, Pod("b", "b-0", "StatefulSet", "b", "10.0.0.2", started: T0));
        clock.Now = T0.AddMinutes(1);
        history.Apply(WatchEventType.Deleted, a);
        history.Apply(WatchEventType.Added, Pod("c", "c-0", "StatefulSet", "c", "10.0.0.3", started: T0.AddMinutes(1)));
        Assert.Equal((2, 1L), (history.Count, history.Shed));
        Assert.Null(history.At("10.0.0.1", T0.AddSeconds(30).ToUnixTimeMilliseconds()));
        Assert.Equal("shop/c", history.At("10.0.0.3", T0.AddMinutes(2).ToUnixTimeMilliseconds())?.Workload);
    }

    [Fact]
    public void Each_end_is_named_by_its_own_host_else_by_the_address_owner_else_by_address()
    {
        var client = new FlowView
        {
            HostId = "host-a", Cookie = 1, Role = FlowRole.Client, Closed = true, LocalAddress = "10.0.0.1", LocalPort = 40000,
            RemoteAddress = "10.96.120.15", RemotePort = 80, Comm = "curl", SynNs = 1, ClosedNs = 2, WallClockOffsetNs = T0.ToUnixTimeMilliseconds() * 1_000_000,
            Workload = new Workload { Cgroup = "/system.slice/web-client.service", Unit = "web-client.service" },
        };
        var server = new FlowView
        {
            HostId = "host-b", Cookie = 2, Role = FlowRole.Server, Closed = true, LocalAddress = "10.244.1.7", LocalPort = 8080,
            RemoteAddress = "10.0.0.1", RemotePort = 40000, Comm = "cart", SynNs = 1, ClosedNs = 2, WallClockOffsetNs = client.WallClockOffsetNs,
            Workload = new Workload { Cgroup = "/kubepods/x", PodUid = "u", Namespace = "shop", Pod = "cart-0", Owner = "cart", OwnerKind = "StatefulSet" },
        };
        var owners = new Owners();
        var joined = SessionJoin.Build(SessionKeys.For(client), [client, server], owners: owners);
        Assert.Equal("web-client.service>shop/cart:8080", Edges.Of(joined));
        Assert.Equal("curl>10.96.120.15:80", Edges.AddressOf(joined));
        // The server's host is not in the fleet: the Service the client dialled names it.
        var clientOnly = SessionJoin.Build(SessionKeys.For(client), [client], owners: owners);
        Assert.Equal("web-client.service>shop/cart-svc:80", Edges.Of(clientOnly));
        // Nor the Service: the pod that held the address.
        client.RemoteAddress = "10.244.1.7";
        Assert.Equal("web-client.service>shop/cart:80", Edges.Of(SessionJoin.Build(SessionKeys.For(client), [client], owners: owners)));
        // Outside Kubernetes and systemd: the process name and the address, as before.
        client.Workload = null;
        Assert.Equal("curl>10.244.1.7:80", Edges.Of(SessionJoin.Build(SessionKeys.For(client), [client])));
    }

    private sealed class Owners : IAddressOwners
    {
        public string? PodAt(string address, long unixMs) => address == "10.244.1.7" ? "shop/cart" : null;

        public string? ServiceAt(string address, uint port) => address == "10.96.120.15" && port == 80 ? "shop/cart-svc" : null;
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static V1Pod Pod(string uid, string name, string? ownerKind, string? owner, string ip, string? hash = null, DateTimeOffset? started = null) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Uid = uid, Name = name, NamespaceProperty = "shop",
            Labels = hash is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["pod-template-hash"] = hash },
            OwnerReferences = ownerKind is null ? null : [new V1OwnerReference { Kind = ownerKind, Name = owner, Controller = true, ApiVersion = "apps/v1", Uid = "o" }],
        },
        Spec = new V1PodSpec { NodeName = "node-1", Containers = [] },
        Status = new V1PodStatus { Phase = "Running", PodIP = ip, PodIPs = [new V1PodIP { Ip = ip }], StartTime = started?.UtcDateTime },
    };
}
