using System.CommandLine;
using System.Globalization;
using FlowMesh.Cluster.Hosting;
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
        var redis = new Option<string?>("--redis") { Description = "Redis endpoint for cluster state [Cluster:Redis; default 127.0.0.1:6379].", HelpName = "HOST:PORT" };
        var cluster = new Option<string?>("--cluster") { Description = "Cluster name (and Redis key prefix) [Cluster:Name; default flowmesh].", HelpName = "NAME" };
        var bind = new Option<string?>("--bind") { Description = "Address the actor remote listens on [Cluster:BindAddress; default 127.0.0.1].", HelpName = "ADDRESS" };
        var port = new Option<int?>("--port") { Description = "Port the actor remote listens on; 0 = any free [Cluster:Port].", HelpName = "PORT" };
        var advertise = new Option<string?>("--advertise") { Description = "Address other members use to reach this one [Cluster:AdvertisedAddress].", HelpName = "ADDRESS" };
        var memberTtl = new Option<double?>("--member-ttl") { Description = "Seconds a silent member stays in the cluster [Cluster:MemberTtlSeconds; default 8].", HelpName = "SECONDS" };
        var config = new Option<string?>("--config") { Description = "A JSON settings file (same shape as appsettings.json).", HelpName = "FILE" };
        var logFormat = new Option<string?>("--log-format") { Description = "text or json [Logging:Format].", HelpName = "FORMAT" };
        var injectTag = new Option<bool?>("--inject-tag") { Description = "Write a trace tag (experimental TCP option) into this host's SYNs [Node:InjectTag; default false]." };

        var command = new Command("run", """
            Run the Node as a FlowMesh cluster member: capture every TCP connection of this host
            into one flow actor per connection, keep membership and counters in Redis, answer
            queries from any member. Ctrl-C leaves the cluster cleanly. Needs root.
            """)
        {
            hostId, netns, capturePorts, redis, cluster, bind, port, advertise, memberTtl, config, logFormat, injectTag,
        };
        command.SetAction(async (parse, _) =>
        {
            var flags = new Dictionary<string, string?>();
            ProcessHost.AddClusterFlags(flags, parse.GetValue(redis), parse.GetValue(cluster), parse.GetValue(bind), parse.GetValue(port),
                parse.GetValue(advertise), parse.GetValue(memberTtl), parse.GetValue(logFormat));
            if (parse.GetValue(hostId) is { } id)
                flags["Node:HostId"] = id;
            if (parse.GetValue(netns) is { } ns)
                flags["Node:Netns"] = ns;
            var ports = parse.GetValue(capturePorts) ?? [];
            for (var i = 0; i < ports.Length; i++)
                flags[$"Node:Ports:{i}"] = ports[i].ToString(CultureInfo.InvariantCulture);
            if (parse.GetValue(injectTag) is { } inject)
                flags["Node:InjectTag"] = inject ? "true" : "false";
            return await RunAsync(parse.GetValue(config), flags).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(string? configFile, Dictionary<string, string?> flags)
    {
        HostApplicationBuilder builder;
        try
        {
            builder = ProcessHost.CreateBuilder(configFile, flags);
        }
        catch (FileNotFoundException e)
        {
            await Console.Error.WriteLineAsync($"flowmesh: error: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        var nodeSettings = NodeSettings.From(builder.Configuration);
        if (string.IsNullOrWhiteSpace(nodeSettings.HostId))
            nodeSettings.HostId = Environment.MachineName;
        builder.Services.AddSingleton(nodeSettings);
        builder.Services.AddSingleton(ProcessHost.ClusterSettings(builder.Configuration));
        builder.Services.AddSingleton(SettingsBinding.Flows(builder.Configuration));
        builder.Services.AddSingleton<NodeService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<NodeService>());

        using var host = builder.Build();
        try
        {
            await host.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (CaptureStartException e)
        {
            await Console.Error.WriteLineAsync($"flowmesh: error: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}
