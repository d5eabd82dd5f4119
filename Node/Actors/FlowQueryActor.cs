using FlowMesh.Cluster.Placement;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.Node.Flows;
using Proto;

namespace FlowMesh.Node.Actors;

/// <summary>
/// A flow as a virtual actor (ClusterKind <c>flow</c>, identity <c>{hostId}/{cookie}</c>),
/// activated only when something asks about it: the connection's state lives in its
/// shard's table (<see cref="FlowShard"/>), so this actor asks the shard, and, when the
/// shard no longer holds it, reads Redis (the saved state of a passivated open flow, or
/// the record of a closed one). A flow of another host activated here (its host has no
/// member now) is answered from Redis alone. It leaves memory after a quiet while.
/// </summary>
internal sealed class FlowQueryActor(FlowShards shards, FlowStore store, string ownHostId, TimeSpan requestTimeout)
    : QueryActor<FlowQuery>(Quiet)
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(30);
    private string _host = "";
    private ulong _cookie;

    protected override void Activated(IContext context, string identity)
    {
        if (!ClusterKinds.TryParseFlowIdentity(identity, out _host, out _cookie))
            context.Stop(context.Self);
        // A bare kernel cookie (as `capture` prints it) names a flow of this host's current boot.
        if (_host == ownHostId && FlowIds.Kernel(_cookie) == _cookie)
            _cookie = FlowIds.Published(_cookie);
    }

    protected override async Task AnswerAsync(IContext context)
    {
        // Only a flow of this boot can be live here; the shards know flows by the kernel's cookie.
        var kernelCookie = FlowIds.Kernel(_cookie);
        if (_host == ownHostId && FlowIds.IsThisBoot(_cookie) &&
            await ShardQuestion.AskAsync<FlowQueryResponse>(context, shards.Of(kernelCookie), new ShardQuery(kernelCookie), requestTimeout).ConfigureAwait(false) is { Found: true } live)
        {
            context.Respond(live);
            return;
        }
        FlowView? stored = null;
        try
        {
            // The closed record first: a state saved for an open flow may outlive its close for a moment.
            stored = await store.LoadClosedAsync(_host, _cookie).ConfigureAwait(false)
                ?? (await store.LoadAsync(_host, _cookie).ConfigureAwait(false))?.View;
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            // counted by the connection; answered as not found
        }
        context.Respond(stored is null ? new FlowQueryResponse { Found = false } : new FlowQueryResponse { Found = true, Flow = stored });
        if (stored is null)
            context.Stop(context.Self); // nothing to keep alive for
    }
}
