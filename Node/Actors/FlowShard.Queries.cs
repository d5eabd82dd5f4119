using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.Node.Flows;
using Proto;

namespace FlowMesh.Node.Actors;

/// <summary>The shard answering about its flows (for <see cref="FlowQueryActor"/> and the Node's listing).</summary>
internal sealed partial class FlowShard
{
    private Task OnQuery(IContext context, ShardQuery query)
    {
        if (_slotOf.TryGetValue(query.Cookie, out var slot))
        {
            context.Respond(new FlowQueryResponse { Found = true, Flow = View(_entries[slot].State) });
            return Task.CompletedTask;
        }
        // Its first events may still wait for the horizon: answer with what they say, apply nothing yet.
        FlowState? preview = null;
        for (var i = 0; i < _heldCount; i++)
        {
            if (_held[i].SocketCookie == query.Cookie)
                (preview ??= new FlowState(query.Cookie)).Apply(_held[i]);
        }
        // Not here (never seen, closed and gone, passivated, or being restored): the asker reads Redis.
        context.Respond(preview is null ? new FlowQueryResponse { Found = false } : new FlowQueryResponse { Found = true, Flow = View(preview) });
        return Task.CompletedTask;
    }

    /// <summary>The open flows that match, newest first, at most the limit (and whether there were more).</summary>
    private Task OnList(IContext context, ShardList list)
    {
        var matched = new List<FlowView>();
        for (var slot = 0; slot < _used; slot++)
        {
            var state = _entries[slot].State;
            if (state is null || state.Closed)
                continue;
            var view = View(state);
            if (list.Filter.Matches(view))
                matched.Add(view);
        }
        matched.Sort((a, b) => FlowFilters.StartUnixMs(b).CompareTo(FlowFilters.StartUnixMs(a)));
        var truncated = matched.Count > list.Limit;
        if (truncated)
            matched.RemoveRange(list.Limit, matched.Count - list.Limit);
        context.Respond(new ShardListResponse(matched, truncated));
        return Task.CompletedTask;
    }
}
