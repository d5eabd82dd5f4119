using System.CommandLine;
using FlowMesh.Cluster;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlowMesh.Aggregator.Cli;

/// <summary><c>session get ID</c>: joins as a client and asks the session (its shard, or Redis) for it.</summary>
internal static class SessionCommands
{
    public static Command Create()
    {
        var where = new ClientOptions();
        var id = new Argument<string>("id") { Description = "The session id, e.g. tag:945ea41313917aaf or isn:77a1c0de-0c0ffee0." };
        var get = new Command("get", "Print a session (JSON).") { id };
        where.AddTo(get);
        get.SetAction(async (parse, ct) =>
        {
            if (!where.TrySettings(parse, out var settings))
                return 2;
            await using var client = await ClusterMember.StartClientAsync(settings, NullLoggerFactory.Instance, ct).ConfigureAwait(false);
            var key = parse.GetValue(id)!.Split('@')[0];
            var response = await ClientQuery.AskAsync<SessionQueryResponse>(client, settings, key, ClusterKinds.Session, new SessionQuery(), ct).ConfigureAwait(false);
            if (response is not { Found: true })
            {
                await Console.Error.WriteLineAsync(response is null
                    ? $"flowmesh: no answer about session {key} within {settings.RequestTimeout.TotalSeconds} s (is an Aggregator running in cluster {settings.Name}?)"
                    : $"flowmesh: session {key} not found").ConfigureAwait(false);
                return 3;
            }
            Console.WriteLine(ClientQuery.Json.Format(response.Session));
            return 0;
        });
        return new Command("session", "Query sessions through the cluster.") { get };
    }
}
