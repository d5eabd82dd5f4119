using System.CommandLine;
using System.Text.Json;
using FlowMesh.Aggregator.Sessions;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlowMesh.Aggregator.Cli;

/// <summary><c>tags</c>: trace tag survival per edge, as every Aggregator counted it (read from Redis).</summary>
internal static class TagsCommand
{
    public static Command Create()
    {
        var where = new ClientOptions();
        var json = new Option<bool>("--json") { Description = "One JSON object per edge instead of a table." };
        var command = new Command("tags", """
            Trace tag survival per edge (client process -> server address:port) over the session TTL:
            sessions, those whose client wrote a tag, and what became of it: survived (echoed back),
            stripped on the path (the server's Node saw none), echo stripped (lost on the way back),
            peer not instrumented (no echo, no server side in the fleet), no handshake (refused).
            """)
        {
            json,
        };
        where.AddTo(command);
        command.SetAction(async (parse, _) =>
        {
            await using var connection = await RedisConnection.ConnectAsync(parse.GetValue(where.Redis)!, NullLogger.Instance).ConfigureAwait(false);
            // Every edge (at most Sessions:MaxEdges, plus other>other): a command run by hand reads them all.
            var (edges, _, _) = await EdgeCounters.ReadAsync(connection.Database, new RedisKeys(parse.GetValue(where.Cluster)!), null, int.MaxValue).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                foreach (var (edge, counts, _) in edges)
                    Console.WriteLine(JsonSerializer.Serialize(new SortedDictionary<string, object>(counts.ToDictionary(c => c.Key, c => (object)c.Value)) { ["edge"] = edge }));
                return 0;
            }
            var width = Math.Max(4, edges.Count == 0 ? 0 : edges.Max(e => e.Edge.Length));
            Console.WriteLine($"{"EDGE".PadRight(width)}  {"SESSIONS",8}  {"TAGGED",8}  {"SURVIVED",8}  {"STRIPPED",8}  {"ECHO-LOST",9}  {"NO-PEER",8}  {"NO-HS",6}");
            foreach (var (edge, c, _) in edges)
            {
                Console.WriteLine($"{edge.PadRight(width)}  {c["sessions"],8}  {c["sent"],8}  {c["survived"],8}  {c["stripped_on_path"],8}  {c["echo_stripped"],9}  {c["peer_not_instrumented"],8}  {c["no_handshake"],6}");
            }
            if (edges.Count == 0)
                Console.Error.WriteLine("flowmesh: no sessions counted yet");
            return 0;
        });
        return command;
    }
}
