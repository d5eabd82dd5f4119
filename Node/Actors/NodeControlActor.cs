using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Proto;
using Proto.Cluster;

namespace FlowMesh.Node.Actors;

/// <summary>
/// Every Node's named actor (<see cref="ClusterKinds.NodeControlActor"/>): answers with
/// its status, and asks a flow about itself through the cluster from this member (a
/// flow of another host is answered by that host's member).
/// </summary>
internal sealed class NodeControlActor(Func<NodeStatus> status, TimeSpan requestTimeout) : IActor
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
                var sender = context.Sender;
                var request = context.Cluster().RequestAsync<FlowQueryResponse>(identity, new FlowQuery(), CancellationTokens.WithTimeout(requestTimeout));
                context.ReenterAfter(request, task =>
                {
                    var response = task.IsCompletedSuccessfully && task.Result is { } r ? r : new FlowQueryResponse { Found = false };
                    if (sender is not null)
                        context.Send(sender, response);
                    return Task.CompletedTask;
                });
                break;
        }
        return Task.CompletedTask;
    }
}
