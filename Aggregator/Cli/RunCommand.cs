using System.CommandLine;
using FlowMesh.Aggregator.Hosting;
using FlowMesh.Cluster.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FlowMesh.Aggregator.Cli;

/// <summary><c>run</c>: the Aggregator as a cluster member on the .NET Generic Host.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var redis = new Option<string?>("--redis") { Description = "Redis endpoint for cluster state [Cluster:Redis; default 127.0.0.1:6379].", HelpName = "HOST:PORT" };
        var cluster = new Option<string?>("--cluster") { Description = "Cluster name (and Redis key prefix) [Cluster:Name; default flowmesh].", HelpName = "NAME" };
        var bind = new Option<string?>("--bind") { Description = "Address the actor remote listens on [Cluster:BindAddress; default 127.0.0.1].", HelpName = "ADDRESS" };
        var port = new Option<int?>("--port") { Description = "Port the actor remote listens on; 0 = any free [Cluster:Port].", HelpName = "PORT" };
        var advertise = new Option<string?>("--advertise") { Description = "Address other members use to reach this one [Cluster:AdvertisedAddress].", HelpName = "ADDRESS" };
        var memberTtl = new Option<double?>("--member-ttl") { Description = "Seconds a silent member stays in the cluster [Cluster:MemberTtlSeconds; default 8].", HelpName = "SECONDS" };
        var otlp = new Option<string?>("--otlp-endpoint") { Description = "Export sessions as traces to this OTLP/HTTP collector, e.g. http://collector:4318 (/v1/traces is added when no path is given) [Otlp:Endpoint; default off].", HelpName = "URL" };
        var joinWindow = new Option<double?>("--join-window") { Description = "Seconds a session with one closed side waits for the other [Sessions:JoinWindowSeconds; default 3].", HelpName = "SECONDS" };
        var config = new Option<string?>("--config") { Description = "A JSON settings file (same shape as appsettings.json).", HelpName = "FILE" };
        var logFormat = new Option<string?>("--log-format") { Description = "text or json [Logging:Format].", HelpName = "FORMAT" };

        var command = new Command("run", """
            Run an Aggregator as a FlowMesh cluster member: join the client and server ends of
            connections seen on different hosts into sessions (by trace tag, ISN pair or
            addresses), keep them in Redis, and export them as traces over OTLP when asked.
            Ctrl-C leaves the cluster cleanly.
            """)
        {
            redis, cluster, bind, port, advertise, memberTtl, otlp, joinWindow, config, logFormat,
        };
        command.SetAction(async (parse, _) =>
        {
            var flags = new Dictionary<string, string?>();
            ProcessHost.AddClusterFlags(flags, parse.GetValue(redis), parse.GetValue(cluster), parse.GetValue(bind), parse.GetValue(port),
                parse.GetValue(advertise), parse.GetValue(memberTtl), parse.GetValue(logFormat));
            if (parse.GetValue(otlp) is { } endpoint)
                flags["Otlp:Endpoint"] = endpoint;
            if (parse.GetValue(joinWindow) is { } window)
                flags["Sessions:JoinWindowSeconds"] = window.ToString(System.Globalization.CultureInfo.InvariantCulture);

            HostApplicationBuilder builder;
            try
            {
                builder = ProcessHost.CreateBuilder(parse.GetValue(config), flags);
            }
            catch (FileNotFoundException e)
            {
                await Console.Error.WriteLineAsync($"flowmesh: error: {e.Message}").ConfigureAwait(false);
                return 2;
            }
            AggregatorSettings settings;
            try
            {
                settings = AggregatorSettings.From(builder.Configuration);
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync($"flowmesh: error: {e.Message}").ConfigureAwait(false);
                return 2;
            }
            builder.Services.AddSingleton(ProcessHost.ClusterSettings(builder.Configuration));
            builder.Services.AddSingleton(settings);
            builder.Services.AddSingleton<AggregatorService>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<AggregatorService>());
            using var host = builder.Build();
            // The host handles Ctrl-C and SIGTERM itself.
            await host.RunAsync(CancellationToken.None).ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
