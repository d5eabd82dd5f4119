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
internal sealed class NodeControlActor(Func<NodeStatus> status, FlowRegistry flows, TimeSpan requestTimeout) : IActor
{
    /// <summary>Flow actors asked at once while listing: enough to hide the hops, few enough not to flood the mailboxes.</summary>
    private const int ListParallelism = 64;

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
    /// Asks every open flow of this host for its view and keeps those that match, newest
    /// first. Closed flows are left out: the gateway reads them from Redis.
    /// </summary>
    private async Task<ListFlowsResponse> ListAsync(IRootContext root, ListFlowsRequest request)
    {
        var limit = request.Limit <= 0 ? 100 : request.Limit;
        var handles = flows.OwnHandles.Where(h => !h.Closed).ToList();
        var matched = new List<FlowView>();
        for (var i = 0; i < handles.Count; i += ListParallelism)
        {
            var asks = handles.Skip(i).Take(ListParallelism)
                .Select(h => root.RequestAsync<FlowQueryResponse>(h.Pid, new FlowQuery(), CancellationTokens.WithTimeout(requestTimeout)))
                .ToList();
            foreach (var ask in asks)
            {
                try
                {
                    if (await ask.ConfigureAwait(false) is { Found: true, Flow: { Closed: false } view } && request.Filter.Matches(view))
                        matched.Add(view);
                }
                catch (Exception e) when (e is TimeoutException or OperationCanceledException or DeadLetterException)
                {
                    // Passivated or stopped between the listing and the question: it is in Redis now, or gone.
                }
            }
        }
        matched.Sort((a, b) => FlowFilters.StartUnixMs(b).CompareTo(FlowFilters.StartUnixMs(a)));
        var response = new ListFlowsResponse { Truncated = matched.Count > limit };
        response.Flows.AddRange(matched.Take(limit));
        return response;
    }
}
