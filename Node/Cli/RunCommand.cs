using System.CommandLine;
using System.Globalization;
using FlowMesh.Cluster;
using FlowMesh.Cluster.Startup;
using FlowMesh.Hosting;
using FlowMesh.Node.Hosting;
using FlowMesh.Node.Kernel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FlowMesh.Node.Cli;

/// <summary>
/// <c>run</c>: the Node as a cluster member on the .NET Generic Host. Settings come
/// from appsettings.json (beside the binary, or --config), then FLOWMESH_* environment
/// variables (sections joined by a double underscore: FLOWMESH_CLUSTER__REDIS), then flags.
/// </summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var hostId = new Option<string?>("--host-id") { Description = "This host's id in the fleet [Node:HostId; default: the machine name].", HelpName = "ID" };
        var netns = new Option<string?>("--netns") { Description = "Network namespace to capture: a name, a path, 'self' or 'all' [Node:Netns].", HelpName = "NAME" };
        var capturePorts = new Option<ushort[]>("--capture-port") { Description = "Only connections with this port (repeatable) [Node:Ports].", HelpName = "P" };
        var member = new MemberOptions();
        var injectTag = new Option<bool?>("--inject-tag") { Description = "Write a trace tag (experimental TCP option) into this host's SYNs [Node:InjectTag; default false]." };
        var goProbe = new Option<bool?>("--go-probe") { Description = "Time Go processes' goroutine scheduling with a uprobe on runtime.execute [Node:Runtime:Go; default false]." };
        var runQueue = new Option<bool?>("--run-queue") { Description = "Time the run-queue waits of processes with traced sockets [Node:Runtime:RunQueue; default true]." };

        var command = new Command("run", """
            Run the Node as a FlowMesh cluster member: capture every TCP connection of this host
            into one flow per connection, keep membership and counters in Redis, answer
            queries from any member. Ctrl-C leaves the cluster cleanly. Needs root.
            """)
        {
            hostId, netns, capturePorts, injectTag, goProbe, runQueue,
        };
        member.AddTo(command);
        command.SetAction(async (parse, _) =>
        {
            var flags = member.Flags(parse);
            if (parse.GetValue(hostId) is { } id)
                flags["Node:HostId"] = id;
            if (parse.GetValue(netns) is { } ns)
                flags["Node:Netns"] = ns;
            var ports = parse.GetValue(capturePorts) ?? [];
            for (var i = 0; i < ports.Length; i++)
                flags[$"Node:Ports:{i}"] = ports[i].ToString(CultureInfo.InvariantCulture);
            if (parse.GetValue(injectTag) is { } inject)
                flags["Node:InjectTag"] = inject ? "true" : "false";
            if (parse.GetValue(goProbe) is { } go)
                flags["Node:Runtime:Go"] = go ? "true" : "false";
            if (parse.GetValue(runQueue) is { } rq)
                flags["Node:Runtime:RunQueue"] = rq ? "true" : "false";
            return await RunAsync(parse.GetValue(member.Config), flags).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(string? configFile, Dictionary<string, string?> flags)
    {
        if (ProcessHost.TryCreateBuilder(configFile, flags) is not { } builder)
            return 2;
        var nodeSettings = NodeSettings.From(builder.Configuration);
        if (string.IsNullOrWhiteSpace(nodeSettings.HostId))
            nodeSettings.HostId = Environment.MachineName;
        builder.Services.AddSingleton(nodeSettings);
        ClusterSettings clusterSettings;
        try
        {
            clusterSettings = ProcessHost.ClusterSettings(builder.Configuration);
            if (nodeSettings.TagKeyFile is { Length: > 0 } keyFile)
                TagKeyFile.Read(keyFile);
            await ProcessHost.CheckRedisAsync(clusterSettings).ConfigureAwait(false);
        }
        catch (StartupException e)
        {
            await Console.Error.WriteLineAsync($"flowmesh: error: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        builder.Services.AddSingleton(clusterSettings);
        builder.Services.AddSingleton(SettingsBinding.Flows(builder.Configuration));
        builder.Services.AddSingleton(SettingsBinding.HandOff(builder.Configuration));
        builder.Services.AddSingleton<NodeService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<NodeService>());

        using var host = builder.Build();
        try
        {
            await host.RunAsync().ConfigureAwait(false);
            return Environment.ExitCode; // 0, or 75 when the cluster removed this member (ExpulsionExit)
        }
        catch (CaptureStartException e)
        {
            await Console.Error.WriteLineAsync($"flowmesh: error: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}
