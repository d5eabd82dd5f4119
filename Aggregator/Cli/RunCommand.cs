using System.CommandLine;
using FlowMesh.Aggregator.Gateway;
using FlowMesh.Aggregator.Hosting;
using FlowMesh.Cluster;
using FlowMesh.Cluster.Startup;
using FlowMesh.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FlowMesh.Aggregator.Cli;

/// <summary><c>run</c>: the Aggregator as a cluster member on the .NET Generic Host.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var member = new MemberOptions();
        var otlp = new Option<string?>("--otlp-endpoint") { Description = "Export sessions as traces to this OTLP/HTTP collector, e.g. http://collector:4318 (/v1/traces is added when no path is given) [Otlp:Endpoint; default off].", HelpName = "URL" };
        var joinWindow = new Option<double?>("--join-window") { Description = "Seconds a session with one closed side waits for the other [Sessions:JoinWindowSeconds; default 3].", HelpName = "SECONDS" };
        var listen = new Option<string?>("--listen") { Description = "Where the gateway (HTTP API and web view) listens [Gateway:Address and Gateway:Port; default 127.0.0.1:8080; port 0 picks a free one].", HelpName = "ADDRESS:PORT" };
        var token = new Option<string?>("--token") { Description = "Bearer token the gateway asks for; required when it listens beyond loopback [Gateway:Token].", HelpName = "TOKEN" };
        var noGateway = new Option<bool>("--no-gateway") { Description = "Run without the gateway [Gateway:Enabled=false]." };

        var command = new Command("run", """
            Run an Aggregator as a FlowMesh cluster member: join the client and server ends of
            connections seen on different hosts into sessions (by trace tag, ISN pair or
            addresses), keep them and latency histograms in Redis, serve the gateway (HTTP API
            and web view), and export sessions as traces over OTLP when asked.
            Ctrl-C leaves the cluster cleanly.
            """)
        {
            otlp, joinWindow, listen, token, noGateway,
        };
        member.AddTo(command);
        command.SetAction(async (parse, _) =>
        {
            var flags = member.Flags(parse);
            if (parse.GetValue(otlp) is { } endpoint)
                flags["Otlp:Endpoint"] = endpoint;
            if (parse.GetValue(joinWindow) is { } window)
                flags["Sessions:JoinWindowSeconds"] = window.ToString(System.Globalization.CultureInfo.InvariantCulture);

            if (parse.GetValue(listen) is { } address)
            {
                var colon = address.LastIndexOf(':');
                if (colon <= 0 || !int.TryParse(address[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var _))
                {
                    await Console.Error.WriteLineAsync($"flowmesh: error: --listen '{address}' is not ADDRESS:PORT (e.g. 127.0.0.1:8080)").ConfigureAwait(false);
                    return 2;
                }
                flags["Gateway:Address"] = address[..colon].Trim('[', ']');
                flags["Gateway:Port"] = address[(colon + 1)..];
            }
            if (parse.GetValue(token) is { } t)
                flags["Gateway:Token"] = t;
            if (parse.GetValue(noGateway))
                flags["Gateway:Enabled"] = "false";

            if (ProcessHost.TryCreateBuilder(parse.GetValue(member.Config), flags) is not { } builder)
                return 2;
            AggregatorSettings settings;
            ClusterSettings clusterSettings;
            try
            {
                settings = AggregatorSettings.From(builder.Configuration);
                clusterSettings = ProcessHost.ClusterSettings(builder.Configuration);
                await ProcessHost.CheckRedisAsync(clusterSettings).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ArgumentException or StartupException)
            {
                await Console.Error.WriteLineAsync($"flowmesh: error: {e.Message}").ConfigureAwait(false);
                return 2;
            }
            builder.Services.AddSingleton(clusterSettings);
            builder.Services.AddSingleton(settings);
            builder.Services.AddSingleton<AggregatorService>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<AggregatorService>());
            using var host = builder.Build();
            // The host handles Ctrl-C and SIGTERM itself.
            try
            {
                await host.RunAsync(CancellationToken.None).ConfigureAwait(false);
                return Environment.ExitCode; // 0, or 75 when the cluster removed this member (ExpulsionExit)
            }
            catch (GatewayStartException e)
            {
                await Console.Error.WriteLineAsync($"flowmesh: error: {e.Message}").ConfigureAwait(false);
                return 2;
            }
        });
        return command;
    }
}
