using System.CommandLine;
using FlowMesh.Cluster;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlowMesh.Node.Cli;

/// <summary>
/// Commands that join the cluster as a client (hosting nothing) to ask it something:
/// <c>flow get HOST/COOKIE</c> and <c>cluster status</c>. No root needed.
/// </summary>
internal static class ClientCommands
{
    public static Command Flow()
    {
        var where = new ClientOptions();
        var identity = new Argument<string>("flow") { Description = "The flow: HOST_ID/COOKIE (the cookie of its flow id, or the kernel's own as capture prints it)." };
        var get = new Command("get", "Ask a flow, wherever its host runs, for its full view (JSON).") { identity };
        where.AddTo(get);
        get.SetAction(async (parse, ct) =>
        {
            if (!ClusterKinds.TryParseFlowIdentity(parse.GetValue(identity)!, out var host, out var cookie))
            {
                await Console.Error.WriteLineAsync("flowmesh: error: a flow is HOST_ID/COOKIE, e.g. node-1/4097").ConfigureAwait(false);
                return 2;
            }
            if (!where.TrySettings(parse, out var settings))
                return 2;
            await using var client = await ClusterMember.StartClientAsync(settings, NullLoggerFactory.Instance, ct).ConfigureAwait(false);
            var response = await ClientQuery.AskAsync<FlowQueryResponse>(client, settings, ClusterKinds.FlowIdentity(host, cookie), ClusterKinds.Flow, new FlowQuery(), ct)
                .ConfigureAwait(false);
            if (response is not { Found: true })
            {
                await Console.Error.WriteLineAsync(response is null
                    ? $"flowmesh: no answer about flow {host}/{cookie} within {settings.RequestTimeout.TotalSeconds} s (is host {host}'s Node running in cluster {settings.Name}?)"
                    : $"flowmesh: flow {host}/{cookie} not found (no such connection on that host, or its record expired)").ConfigureAwait(false);
                return 3;
            }
            Console.WriteLine(ClientQuery.Json.Format(response.Flow));
            return 0;
        });
        return new Command("flow", "Query flows through the cluster.") { get };
    }

    public static Command ClusterStatus()
    {
        var where = new ClientOptions();
        var status = new Command("status", "List the cluster's members and each Node's and Aggregator's counters (from Redis).");
        where.AddTo(status);
        status.SetAction(async (parse, ct) =>
        {
            if (!where.TrySettings(parse, out var settings))
                return 2;
            await using var client = await ClusterMember.StartClientAsync(settings, NullLoggerFactory.Instance, ct).ConfigureAwait(false);
            Console.WriteLine("MEMBER                            ROLE        HOST             ADDRESS");
            foreach (var m in client.Provider.Registrations.Values.OrderBy(m => m.Role).ThenBy(m => m.HostId))
                Console.WriteLine($"{m.MemberId,-33} {m.Role,-11} {m.HostId,-16} {m.Host}:{m.Port}");
            var db = client.Redis.Database;
            foreach (var host in (await db.SetMembersAsync(client.Keys.Nodes).ConfigureAwait(false)).Select(h => (string)h!).Order())
            {
                var fields = await db.HashGetAllAsync(client.Keys.NodeStatus(host)).ConfigureAwait(false);
                if (fields.Length == 0)
                    continue;
                Console.WriteLine();
                Console.WriteLine($"node {host}: " + string.Join(" ", fields.Where(f => f.Name != "host_id" && f.Name != "member_id").Select(f => $"{f.Name}={f.Value}")));
            }
            foreach (var aggregator in client.Provider.Registrations.Values.Where(m => m.Role == ClusterKinds.AggregatorRole).OrderBy(m => m.MemberId))
            {
                var fields = await db.HashGetAllAsync(client.Keys.AggregatorStatus(aggregator.MemberId)).ConfigureAwait(false);
                if (fields.Length == 0)
                    continue;
                Console.WriteLine();
                Console.WriteLine($"aggregator {aggregator.MemberId}: " + string.Join(" ", fields.Where(f => f.Name != "member_id").Select(f => $"{f.Name}={f.Value}")));
            }
            var totals = await LossTotals.ReadAsync(db, client.Keys).ConfigureAwait(false);
            Console.WriteLine();
            Console.WriteLine("lost since the cluster's Redis began: " + (totals.Values.Sum() == 0
                ? "nothing"
                : string.Join(" ", totals.Where(t => t.Value > 0).OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}"))));
            return 0;
        });
        return new Command("cluster", "Look at the cluster.") { status };
    }
}
