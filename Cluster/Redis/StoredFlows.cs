using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using StackExchange.Redis;

namespace FlowMesh.Cluster.Redis;

/// <summary>
/// How flows are kept in Redis, read the same way by the Node (its own flows) and the
/// gateway (anyone's): a closed flow's record under <c>closed-flow:{host}:{cookie}</c>, and
/// a passivated open flow's state, a hash of its <c>view</c> and the <c>etag</c> its saves
/// compare and set. Throws what Redis throws.
/// </summary>
public static class StoredFlows
{
    public const string ViewField = "view";
    public const string EtagField = "etag";

    public static async Task<FlowView?> ReadClosedAsync(IDatabase db, RedisKeys keys, string hostId, ulong cookie)
    {
        var bytes = await db.StringGetAsync(keys.ClosedFlow(hostId, cookie)).ConfigureAwait(false);
        return bytes.IsNull ? null : FlowView.Parser.ParseFrom((byte[])bytes!);
    }

    /// <summary>A passivated flow's state and the etag it was saved under, or null.</summary>
    public static async Task<(FlowView View, string Etag)?> ReadPassivatedAsync(IDatabase db, RedisKeys keys, string hostId, ulong cookie)
    {
        var fields = await db.HashGetAsync(keys.FlowState(hostId, cookie), [EtagField, ViewField]).ConfigureAwait(false);
        return fields[0].IsNull || fields[1].IsNull ? null : (FlowView.Parser.ParseFrom((byte[])fields[1]!), (string)fields[0]!);
    }

    /// <summary>Whatever Redis keeps of a flow: its closed record, else its passivated state.</summary>
    public static async Task<FlowView?> ReadAsync(IDatabase db, RedisKeys keys, string hostId, ulong cookie) =>
        await ReadClosedAsync(db, keys, hostId, cookie).ConfigureAwait(false)
        ?? (await ReadPassivatedAsync(db, keys, hostId, cookie).ConfigureAwait(false))?.View;
}
