using FlowMesh.Cluster.Placement;
using FlowMesh.Contracts.Messages;
using Proto;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// A session as a virtual actor (ClusterKind <c>session</c>, identity: its session key),
/// activated only when something asks about it (<c>session get</c>, the gateway): the
/// session itself lives in its shard's table (<see cref="SessionShard"/>), so this actor
/// asks the shard, and, when the shard no longer holds it, reads Redis (which keeps it
/// for its TTL). Placement puts it on the member whose shards take the key's flows. It
/// leaves memory after the linger time.
/// </summary>
internal sealed class SessionQueryActor(SessionShards shards, SessionStore store, TimeSpan linger, TimeSpan requestTimeout)
    : QueryActor<SessionQuery>(linger)
{
    private string _key = "";

    protected override void Activated(IContext context, string identity) => _key = identity;

    protected override async Task AnswerAsync(IContext context)
    {
        if (await ShardQuestion.AskAsync<SessionQueryResponse>(context, shards.Of(_key), new ShardSessionQuery(_key), requestTimeout).ConfigureAwait(false) is { Found: true } live)
        {
            context.Respond(live);
            return;
        }
        var stored = await store.LoadAsync(_key).ConfigureAwait(false);
        context.Respond(stored is null ? new SessionQueryResponse { Found = false } : new SessionQueryResponse { Found = true, Session = stored });
    }
}
