using System.CommandLine;
using FlowMesh.Cluster;
using FlowMesh.Cluster.Hosting;
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
        var where = new ClientOptions();
        var id = new Argument<string>("id") { Description = "The session id, e.g. tag:945ea41313917aaf or isn:77a1c0de-0c0ffee0." };
        var get = new Command("get", "Print a session (JSON).") { id };
        foreach (var option in where.All)
            get.Options.Add(option);
        get.SetAction(async (parse, ct) =>
        {
            await using var client = await ClusterMember.StartClientAsync(where.Settings(parse), NullLoggerFactory.Instance, ct).ConfigureAwait(false);
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
