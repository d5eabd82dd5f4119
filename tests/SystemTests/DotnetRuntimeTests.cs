using System.Globalization;
using System.Text.Json;
using FlowMesh.Contracts.Messages;
using FlowMesh.SystemTests.Harness;

namespace FlowMesh.SystemTests;

/// <summary>
/// GC pauses on sessions: the .NET workload (workloads/GcServer) on host-b, whose /gc forces
/// a blocking collection inside the handler, curl on host-a making one connection per
/// request, real Nodes and a real Aggregator. The truth is the server's own collection
/// count per request: a session overlaps a pause exactly when its request collected.
/// </summary>
public sealed class DotnetRuntimeTests
{
    private const int Port = 8095;
    private static readonly TimeSpan Deadline = SessionFleet.Deadline;

    [Fact]
    public async Task Sessions_that_overlapped_a_GC_pause_of_their_NET_server_say_so_and_for_how_long_and_no_others_do()
    {
        using var hosts = TwoHosts.Create();
        await using var fleet = await SessionFleet.StartAsync(hosts.A.Name, hosts.B.Name, [Port], injectTag: true, null, aggregators: 1, []);
        await using var server = NamespaceProgram.Start(hosts.B, "GcServer on host-b", "dotnet", GcServerProcess.Assembly, "--listen", $"{hosts.AddressB}:{Port}");
        var listening = await server.WaitForLineAsync(l => l.Contains("\"listening\"", StringComparison.Ordinal), "GcServer to listen", Deadline);
        var pid = JsonDocument.Parse(listening[listening.IndexOf('{', StringComparison.Ordinal)..]).RootElement.GetProperty("pid").GetUInt32();

        // The Node recognises the process at its first traced connection and attaches to its diagnostics port.
        await RequestAsync(hosts, "/");
        var db = fleet.Client.Member.Redis.Database;
        var process = await ClusterClient.WaitForAsync(async () =>
            {
                var value = await db.HashGetAsync(fleet.Keys.RuntimeProcesses("host-b"), pid);
                return value.IsNull ? null : ProcessRuntimeView.Parser.ParseFrom((byte[])value!);
            }, p => p is { Runtime: "dotnet", Note.Length: 0 } && fleet.B.Log.Any(l => l.Contains($".NET process {pid}", StringComparison.Ordinal)),
            "host-b's Node to watch GcServer through its diagnostics port", Deadline);
        // Warm the server up, so that its code is compiled before the measured requests.
        for (var i = 0; i < 5; i++)
            await RequestAsync(hosts, "/");

        var requests = new List<(ushort LocalPort, string Path, int Collections, long HandlerNs)>();
        for (var i = 0; i < 24; i++)
        {
            var path = i % 4 == 2 ? "/gc" : "/";
            var (port, collections, handlerNs) = await RequestAsync(hosts, path);
            requests.Add((port, path, collections, handlerNs));
        }
        Assert.Contains(requests, r => r.Collections > 0);
        var ports = requests.Select(r => (uint)r.LocalPort).ToHashSet();
        var sessions = await ClusterClient.WaitForAsync(async () => (await fleet.StoredSessionsAsync())
                .Where(s => s is { Closed: true, Client: not null, Server: not null } && ports.Contains(s.Client.LocalPort))
                .GroupBy(s => s.Client.LocalPort).ToDictionary(g => g.Key, g => g.MaxBy(s => s.EndUnixMs)!),
            s => s.Count == requests.Count, $"{requests.Count} joined sessions of GcServer's connections", Deadline);

        foreach (var (localPort, path, collections, handlerNs) in requests)
        {
            var runtime = sessions[localPort].Server.Runtime;
            var what = $"{path} (local port {localPort}, {collections} collections by the server's count)";
            Assert.True(runtime is { Runtime: "dotnet", GcWatched: true }, $"{what}: its server side does not say its GC pauses were watched");
            if (collections > 0)
            {
                Assert.True(runtime.GcPauses >= 1, $"{what}: the session does not say it overlapped a pause");
                // The pause lies inside the handler's own interval, itself inside the connection.
                Assert.InRange(runtime.GcPauseOverlapUs, 1UL, (ulong)(handlerNs / 1000) + 1);
            }
            else
            {
                Assert.True(runtime.GcPauses == 0, $"{what}: the session claims {runtime.GcPauses} pauses ({runtime.GcPauseOverlapUs} us)");
            }
        }
    }

    /// <summary>One request on a new connection (curl on host-a): its local port, the collections the server counted in the handler, and the handler's length.</summary>
    private static async Task<(ushort LocalPort, int Collections, long HandlerNs)> RequestAsync(TwoHosts hosts, string path)
    {
        var lines = await NamespaceProgram.RunAsync(hosts.A, "curl on host-a", Deadline,
            "curl", "-s", "-m", "10", "-D", "-", "-o", "/dev/null", "-w", "local_port=%{local_port}\n", $"http://{hosts.AddressB}:{Port}{path}");
        long Header(string name) => long.Parse(lines.First(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))[(name.Length + 1)..].Trim(), CultureInfo.InvariantCulture);
        var localPort = ushort.Parse(lines.First(l => l.StartsWith("local_port=", StringComparison.Ordinal))["local_port=".Length..], CultureInfo.InvariantCulture);
        return (localPort, (int)(Header("X-Collections-After") - Header("X-Collections-Before")), Header("X-After-Mono-Ns") - Header("X-Before-Mono-Ns"));
    }
}
