using System.Globalization;
using System.Text.Json.Nodes;
using FlowMesh.Contracts.Messages;
using FlowMesh.SystemTests.Harness;
using FlowMesh.TestSupport;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace FlowMesh.SystemTests;

/// <summary>
/// Kubernetes identity (issue 17) through real Nodes and a real Aggregator, whose Kubernetes
/// API is <see cref="KubernetesApiServer"/> (a real kube-apiserver cannot be installed here).
/// The processes run in cgroups the test makes in the kubelet's systemd layout, so a Node
/// reads the pod UID from the cgroup as it would on a real node; the truth is the objects
/// the test served and the groups it made.
/// </summary>
public sealed class KubernetesIdentityTests(ITestOutputHelper output)
{
    private const string ClientUid = "3f0b8a9c-1d2e-4f5a-8b6c-7d8e9f0a1b2c";
    private const string ServerUid = "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d";
    private const string ClientContainer = "1111111111111111111111111111111111111111111111111111111111111111";
    private const string ServerContainer = "2222222222222222222222222222222222222222222222222222222222222222";

    [Fact]
    public async Task Both_ends_are_named_as_pods_owners_and_a_moved_address_keeps_its_old_owner_for_old_flows()
    {
        var (port, outsidePort) = (LoopbackPort.Free(), LoopbackPort.Free());
        using var hosts = TwoHosts.Create();
        using var api = KubernetesApiServer.Start();
        var kubeconfig = api.WriteKubeconfig(Path.Combine(Path.GetTempPath(), $"fm-kubeconfig-{Guid.NewGuid():n}"));
        // The client's pod, a Deployment's (through its ReplicaSet), on host-a; the server's, a StatefulSet's, on host-b.
        api.Put("pods", Pod(ClientUid, "frontend-7d4b9c8f5-x2x9k", "ReplicaSet", "frontend-7d4b9c8f5", "host-a", hosts.AddressA, hash: "7d4b9c8f5"));
        api.Put("pods", Pod(ServerUid, "cart-0", "StatefulSet", "cart", "host-b", "10.244.9.9"));
        // A pod elsewhere holds host-b's address for now: the server outside any pod there is named by it.
        var before = Pod("aa000000-0000-4000-8000-000000000001", "billing-5f6d7c8b9-abcde", "ReplicaSet", "billing-5f6d7c8b9", "node-x", hosts.AddressB, hash: "5f6d7c8b9");
        api.Put("pods", before);
        Dictionary<string, string> Kube(string? node) => new()
        {
            ["FLOWMESH_KUBERNETES__ENABLED"] = "true",
            ["FLOWMESH_KUBERNETES__KUBECONFIG"] = kubeconfig,
            ["FLOWMESH_KUBERNETES__NODENAME"] = node ?? "",
        };
        // The kubelet's layout, below a slice of the test's own (a real node's kubepods.slice is never touched).
        using var cgroups = WorkloadCgroups.Create();
        var clientProcs = cgroups.Make($"kubepods-besteffort-pod{ClientUid.Replace('-', '_')}.slice/cri-containerd-{ClientContainer}.scope");
        var serverProcs = cgroups.Make($"kubepods-besteffort-pod{ServerUid.Replace('-', '_')}.slice/cri-containerd-{ServerContainer}.scope");
        try
        {
            await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, [port, outsidePort], injectTag: false,
                Kube("host-a"), Kube("host-b"), aggregators: 0, []);
            await using var aggregator = await MemberProcess.StartAggregatorAsync(fleet.Redis, fleet.Cluster, ["--join-window", "1"], Kube(null));
            await ClusterClient.WaitForAsync(() => Task.FromResult(fleet.Client.MemberIds), ids => ids.Count == 3, "two Nodes and the Aggregator", SessionFleet.Deadline);
            using var http = new HttpClient { BaseAddress = aggregator.GatewayUrl };
            // Both Nodes and the Aggregator have listed: every pod is known before the first connection.
            await ClusterClient.WaitForAsync(async () => new[] { (await fleet.Client.StatusAsync(fleet.A)).KubernetesPods, (await fleet.Client.StatusAsync(fleet.B)).KubernetesPods },
                pods => pods.All(p => p == 1), "each Node to know its one pod", SessionFleet.Deadline);
            await ClusterClient.WaitForAsync(async () => await fleet.AggregatorStatusAsync(aggregator),
                s => s.GetValueOrDefault("kubernetes_addresses") == 3, "the Aggregator to know the three pods' addresses", SessionFleet.Deadline);

            // A server in the StatefulSet's container on host-b; a client in the Deployment's on host-a.
            await using var server = NamespaceProgram.StartInCgroup(hosts.B, serverProcs, "server in cart-0",
                "python3", "-c", Server(hosts.AddressB, port));
            await WaitListeningAsync(hosts.B, port);
            await using (var client = NamespaceProgram.StartInCgroup(hosts.A, clientProcs, "client in frontend",
                "python3", "-c", Client(hosts.AddressB, port)))
                Assert.Equal(0, await client.WaitForExitAsync(SessionFleet.Deadline));

            var edge = $"shop/frontend>shop/cart:{port}";
            var sessions = await ClusterClient.WaitForAsync(() => fleet.StoredSessionsAsync(),
                all => all.Any(s => s.Closed && s.Client is not null && s.Server is not null && s.ServerEndpoint.EndsWith($":{port}", StringComparison.Ordinal)),
                "the pod-to-pod session, joined", SessionFleet.Deadline);
            var podToPod = Assert.Single(sessions, s => s.ServerEndpoint.EndsWith($":{port}", StringComparison.Ordinal));
            output.WriteLine($"{podToPod.ClientEnd} > {podToPod.ServerEnd}: client {podToPod.Client.Workload}, server {podToPod.Server.Workload}");
            Assert.Equal(("shop/frontend", $"shop/cart:{port}"), (podToPod.ClientEnd, podToPod.ServerEnd));
            AssertPod(podToPod.Client.Workload, ClientUid, "frontend-7d4b9c8f5-x2x9k", "Deployment", "frontend");
            AssertPod(podToPod.Server.Workload, ServerUid, "cart-0", "StatefulSet", "cart");
            Assert.Equal("frontend", podToPod.Client.Workload.Labels["app.kubernetes.io/name"]);

            // Each Node asked only for its own node's pods.
            Assert.Contains(api.Requests, r => r.StartsWith("/api/v1/pods", StringComparison.Ordinal) && r.Contains("fieldSelector=spec.nodeName%3Dhost-a", StringComparison.Ordinal));
            Assert.Contains(api.Requests, r => r.StartsWith("/api/v1/pods", StringComparison.Ordinal) && r.Contains("fieldSelector=spec.nodeName%3Dhost-b", StringComparison.Ordinal));

            // The API's filters by namespace, workload and pod.
            var byNamespace = (await http.GetJsonAsync("/api/sessions?namespace=shop&limit=100")).GetProperty("items").EnumerateArray().ToList();
            Assert.Contains(byNamespace, s => s.GetProperty("edge").GetString() == edge);
            // (The service map's counts reach Redis within a second of the session.)
            var edges = await ClusterClient.WaitForAsync(
                async () => (await http.GetJsonAsync("/api/edges?workload=shop%2Fcart")).EnumerateArray().Select(e => e.GetProperty("edge").GetString()).ToList(),
                e => e.Count > 0, "the edge on the service map", SessionFleet.Deadline);
            Assert.Equal([edge], edges);
            var flows = (await http.GetJsonAsync("/api/flows?pod=shop%2Fcart-0&limit=100")).GetProperty("items").EnumerateArray().ToList();
            Assert.NotEmpty(flows);
            Assert.All(flows, f => Assert.Equal(ServerUid, f.GetProperty("workload").GetProperty("podUid").GetString()));

            // Host-b's address is a pod's elsewhere (billing); a server there in no pod is named by it.
            using var listener = hosts.ListenOnB(outsidePort);
            var first = await OutsideSessionAsync(fleet, hosts, listener, outsidePort, 1);
            Assert.Equal($"shop/billing:{outsidePort}", first.ServerEnd);
            // The address moves: billing's pod goes, ledger's takes it. ledger's startTime is
            // older than the move (its kubelet took it before it had an address): no matter.
            var moved = DateTimeOffset.UtcNow;
            api.Delete("pods", before);
            api.Put("pods", Pod("aa000000-0000-4000-8000-000000000002", "ledger-6b7c8d9e0-fghij", "ReplicaSet", "ledger-6b7c8d9e0", "node-x", hosts.AddressB,
                hash: "6b7c8d9e0", started: moved.AddMinutes(-5)));
            await ClusterClient.WaitForAsync(async () => await fleet.AggregatorStatusAsync(aggregator),
                s => s.GetValueOrDefault("kubernetes_addresses") == 4, "the Aggregator to see the address move", SessionFleet.Deadline);
            var second = await OutsideSessionAsync(fleet, hosts, listener, outsidePort, 2);
            Assert.Equal($"shop/ledger:{outsidePort}", second.ServerEnd);
            // Yesterday's flow keeps yesterday's owner, as stored and as the API lists it.
            var again = await http.GetJsonAsync($"/api/sessions/{Uri.EscapeDataString(first.Id)}");
            Assert.Equal($"python3>shop/billing:{outsidePort}", again.GetProperty("edge").GetString());
            Assert.Equal($"python3>{hosts.AddressB}:{outsidePort}", again.GetProperty("addressEdge").GetString());
        }
        finally
        {
            File.Delete(kubeconfig);
        }
    }

    /// <summary>One connection from host-a (no pod) to the listener on host-b (no pod), and its joined session.</summary>
    private static async Task<SessionView> OutsideSessionAsync(SessionFleet fleet, TwoHosts hosts, System.Net.Sockets.Socket listener, int port, int count)
    {
        var accept = Task.Run(() =>
        {
            using var s = listener.Accept();
            Sockets.ReceiveUntilClosed(s);
        });
        await NamespaceProgram.RunAsync(hosts.A, "client outside any pod", SessionFleet.Deadline, "python3", "-c", Client(hosts.AddressB, port));
        await accept.WaitAsync(SessionFleet.Deadline);
        var sessions = await ClusterClient.WaitForAsync(() => fleet.StoredSessionsAsync(),
            all => all.Count(s => s.Closed && s.Server is not null && s.Client is not null && s.ServerEndpoint.EndsWith($":{port}", StringComparison.Ordinal)) >= count,
            $"session {count} to the server outside any pod", SessionFleet.Deadline);
        return sessions.Where(s => s.ServerEndpoint.EndsWith($":{port}", StringComparison.Ordinal)).MaxBy(s => s.StartUnixMs)!;
    }

    private static void AssertPod(Workload w, string uid, string pod, string ownerKind, string owner)
    {
        Assert.Equal((uid, "shop", pod, ownerKind, owner), (w.PodUid, w.Namespace, w.Pod, w.OwnerKind, w.Owner));
        Assert.Equal("containerd", w.ContainerRuntime);
    }

    private static JsonObject Pod(string uid, string name, string ownerKind, string owner, string node, string ip, string? hash = null, DateTimeOffset? started = null)
    {
        var pod = KubernetesApiServer.Fixture("pod");
        var meta = pod["metadata"]!.AsObject();
        meta["uid"] = uid;
        meta["name"] = name;
        meta["generateName"] = null;
        var labels = new JsonObject { ["app.kubernetes.io/name"] = owner.Split('-')[0] };
        if (hash is not null)
            labels["pod-template-hash"] = hash;
        meta["labels"] = labels;
        meta["ownerReferences"]![0]!["kind"] = ownerKind;
        meta["ownerReferences"]![0]!["name"] = owner;
        meta["ownerReferences"]![0]!["apiVersion"] = "apps/v1";
        pod["spec"]!["nodeName"] = node;
        pod["status"]!["podIP"] = ip;
        pod["status"]!["podIPs"] = new JsonArray(new JsonObject { ["ip"] = ip });
        pod["status"]!["startTime"] = (started ?? DateTimeOffset.UtcNow.AddMinutes(-10)).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        return pod;
    }

    private static string Server(string address, int port) =>
        $"import socket\ns = socket.create_server(('{address}', {port}))\nwhile True:\n    c, _ = s.accept()\n    while c.recv(4096): pass\n    c.close()";

    private static string Client(string address, int port) =>
        $"import socket\ns = socket.create_connection(('{address}', {port}), timeout=5)\ns.sendall(b'hello')\ns.close()";

    private static async Task WaitListeningAsync(TestNamespace host, int port) =>
        await ClusterClient.WaitForAsync(async () => await NamespaceProgram.RunAsync(host, "ss", SessionFleet.Deadline, "ss", "-Hltn", $"sport = :{port}"),
            lines => lines.Count > 0, $"a listener on port {port}", SessionFleet.Deadline);
}
