using System.CommandLine;
using FlowMesh.Cluster;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Proto.Cluster;

namespace FlowMesh.Aggregator.Cli;

/// <summary><c>session get ID</c>: joins as a client and asks a session actor (or Redis, through it) for a session.</summary>
internal static class SessionCommands
{
    private static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    public static Command Create()
    {
        var redis = new Option<string>("--redis")
        {
            Description = "Redis endpoint of the cluster.",
            HelpName = "HOST:PORT",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FLOWMESH_CLUSTER__REDIS") ?? "127.0.0.1:6379",
        };
        var cluster = new Option<string>("--cluster")
        {
            Description = "Cluster name.",
            HelpName = "NAME",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FLOWMESH_CLUSTER__NAME") ?? "flowmesh",
        };
        var id = new Argument<string>("id") { Description = "The session id, e.g. tag:945ea41313917aaf or isn:77a1c0de-0c0ffee0." };
        var get = new Command("get", "Print a session (JSON).") { id, redis, cluster };
        get.SetAction(async (parse, ct) =>
        {
            var settings = new ClusterSettings { Redis = parse.GetValue(redis)!, Name = parse.GetValue(cluster)! };
            await using var client = await ClusterMember.StartClientAsync(settings, NullLoggerFactory.Instance, ct).ConfigureAwait(false);
            var key = parse.GetValue(id)!.Split('@')[0];
            var response = await client.Cluster.RequestAsync<SessionQueryResponse>(key, ClusterKinds.Session, new SessionQuery(), ct).ConfigureAwait(false);
            if (response is not { Found: true })
            {
                await Console.Error.WriteLineAsync($"flowmesh: session {key} not found").ConfigureAwait(false);
                return 3;
            }
            Console.WriteLine(Json.Format(response.Session));
            return 0;
        });
        return new Command("session", "Query sessions through the cluster.") { get };
    }
}
