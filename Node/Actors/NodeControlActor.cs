using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Proto;
using Proto.Cluster;

namespace FlowMesh.Node.Actors;

/// <summary>
/// Every Node's named actor (<see cref="ClusterKinds.NodeControlActor"/>): answers with
/// its status, asks a flow about itself through the cluster from this member (a flow
/// of another host is answered by that host's member), and lists this host's live
/// flows for the gateway.
/// </summary>
internal sealed class NodeControlActor(Func<NodeStatus> status, FlowShards shards, TimeSpan requestTimeout) : IActor
{
    public Task ReceiveAsync(IContext context)
    {
        switch (context.Message)
        {
            case NodeStatusRequest:
                context.Respond(new NodeStatusResponse { Status = status() });
                break;
            case QueryFlowRequest query:
                var identity = ClusterIdentity.Create(ClusterKinds.FlowIdentity(query.HostId, query.Cookie), ClusterKinds.Flow);
                // Reenter: the answer comes back later without blocking this actor's mailbox.
                RespondLater(context, context.Cluster().RequestAsync<FlowQueryResponse>(identity, new FlowQuery(), CancellationTokens.WithTimeout(requestTimeout)),
                    task => task.IsCompletedSuccessfully && task.Result is { } r ? r : new FlowQueryResponse { Found = false });
                break;
            case ListFlowsRequest list:
                RespondLater(context, ListAsync(context.System.Root, list), task => task.IsCompletedSuccessfully ? task.Result : new ListFlowsResponse());
                break;
        }
        return Task.CompletedTask;
    }

    private static void RespondLater<T>(IContext context, Task<T> work, Func<Task<T>, object> answer)
    {
        var sender = context.Sender;
        context.ReenterAfter(work, task =>
        {
            if (sender is not null)
                context.Send(sender, answer(task));
            return Task.CompletedTask;
        });
    }

    /// <summary>
    /// Asks every shard for its open flows that match and keeps the newest, up to the
    /// limit. Closed flows are left out: the gateway reads them from Redis.
    /// </summary>
    private async Task<ListFlowsResponse> ListAsync(IRootContext root, ListFlowsRequest request)
    {
        var limit = request.Limit <= 0 ? 100 : request.Limit;
        var asks = shards.All.Select(shard => root.RequestAsync<ShardListResponse>(shard, new ShardList(request.Filter ?? new FlowFilter(), limit), requestTimeout)).ToList();
        var matched = new List<FlowView>();
        var truncated = false;
        foreach (var ask in asks)
        {
            try
            {
                var answer = await ask.ConfigureAwait(false);
                matched.AddRange(answer.Flows);
                truncated |= answer.Truncated;
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException or DeadLetterException)
            {
                truncated = true; // a shard too busy to answer in time: say the list is not whole
            }
        }
        matched.Sort((a, b) => FlowFilters.StartUnixMs(b).CompareTo(FlowFilters.StartUnixMs(a)));
        var response = new ListFlowsResponse { Truncated = truncated || matched.Count > limit };
        response.Flows.AddRange(matched.Take(limit));
        return response;
    }
}
