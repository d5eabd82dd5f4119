using FlowMesh.Node.Identity;
using FlowMesh.SystemTests.Harness;
using FlowMesh.TestSupport;
using Xunit.Abstractions;

namespace FlowMesh.SystemTests;

/// <summary>
/// Workload identity from real cgroups (issue 17): the test makes cgroup v2 groups named
/// like a systemd unit and like a Docker container's scope, runs a real client in each, and
/// the sessions of its connections name that unit and that container. The truth is what the
/// test made, and the server side's cgroup is the one /proc/self/cgroup gives the test.
/// </summary>
public sealed class WorkloadIdentityTests(ITestOutputHelper output)
{
    private const string ContainerId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Fact]
    public async Task A_client_in_a_unit_and_one_in_a_container_scope_are_named_on_their_sessions()
    {
        var port = LoopbackPort.Free();
        var unit = $"fm-probe-{Random.Shared.Next(1 << 20):x}.service";
        var scope = $"docker-{ContainerId}.scope";
        using var hosts = TwoHosts.Create();
        await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, [port], injectTag: false, null);
        using var listener = hosts.ListenOnB(port);
        var accepts = Task.Run(() =>
        {
            for (var i = 0; i < 2; i++)
            {
                using var s = listener.Accept();
                Sockets.ReceiveUntilClosed(s);
            }
        });
        using (var cgroups = WorkloadCgroups.Create())
        {
            foreach (var group in new[] { unit, scope })
            {
                // The shell moves itself into the group, then becomes the client in host A: the
                // connect runs there. (Outside the namespace first: `ip netns exec` mounts a sysfs
                // of its own, without the cgroup mounts.)
                var procs = cgroups.Make(group);
                await ToolRun.OutputAsync("sh", ["-c",
                    $"echo $$ > {procs} && exec ip netns exec {hosts.A.Name} python3 -c \"import socket; s = socket.create_connection(('{hosts.AddressB}', {port})); s.sendall(b'hello'); s.close()\""],
                    SessionFleet.Deadline);
            }
            await accepts.WaitAsync(SessionFleet.Deadline);

            var sessions = await ClusterClient.WaitForAsync(() => fleet.StoredSessionsAsync(),
                all => all.Count(s => s.Closed && s.Client?.Workload is not null && s.Server is not null && s.ServerEndpoint.EndsWith($":{port}", StringComparison.Ordinal)) >= 2,
                "two joined sessions with the client's workload", SessionFleet.Deadline);
            var mine = sessions.Where(s => s.ServerEndpoint.EndsWith($":{port}", StringComparison.Ordinal) && s.Client?.Workload is not null).ToList();
            foreach (var s in mine)
                output.WriteLine($"{s.Client.Workload} | server {s.Server?.Workload}");

            var inUnit = Assert.Single(mine, s => s.Client.Workload.Cgroup == cgroups.PathOf(unit));
            Assert.Equal(unit, inUnit.Client.Workload.Unit);
            Assert.Equal("", inUnit.Client.Workload.ContainerId);
            var inContainer = Assert.Single(mine, s => s.Client.Workload.Cgroup == cgroups.PathOf(scope));
            Assert.Equal((ContainerId, "docker"), (inContainer.Client.Workload.ContainerId, inContainer.Client.Workload.ContainerRuntime));

            // The gateway's filters: by unit, and by the container's short id.
            using var http = new HttpClient { BaseAddress = fleet.Aggregator.GatewayUrl };
            var byUnit = (await http.GetJsonAsync($"/api/sessions?unit={unit}&limit=100")).GetProperty("items").EnumerateArray().ToList();
            Assert.Equal(inUnit.Id, Assert.Single(byUnit).GetProperty("id").GetString());
            var byContainer = (await http.GetJsonAsync($"/api/sessions?container={ContainerId[..12]}&limit=100")).GetProperty("items").EnumerateArray().ToList();
            Assert.Equal(inContainer.Id, Assert.Single(byContainer).GetProperty("id").GetString());

            // The server side is this test process, in whatever cgroup it runs.
            var own = CgroupPaths.FromProcCgroup(await File.ReadAllTextAsync("/proc/self/cgroup"));
            Assert.All(mine, s => Assert.Equal(own, s.Server!.Workload?.Cgroup));
        }
    }
}
