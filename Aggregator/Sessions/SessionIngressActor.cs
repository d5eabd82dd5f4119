using FlowMesh.Aggregator.Live;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Proto;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// Every Aggregator's named actor that takes the Nodes' batches of flows and hands them,
/// one message per shard per batch, to the session shards of their keys. A closed
/// flow's view comes with its steps: it is stored as the flow's record here, and the
/// session keeps it without them (it never reads them).
/// </summary>
internal sealed class SessionIngressActor(SessionShards shards, AggregatorCounters counters, LiveEventPublisher live, ClosedFlowStore closedFlows) : IActor
{
    public Task ReceiveAsync(IContext context)
    {
        if (context.Message is SessionRecords records)
        {
            var count = records.Flows.Count + records.Resent.Count;
            counters.FlowsIn(count);
            counters.FlowsResent(records.Resent.Count);
            var perShard = new List<ShardFlow>?[shards.Count];
            Route(records.Flows, resent: false);
            Route(records.Resent, resent: true);
            for (var i = 0; i < perShard.Length; i++)
            {
                if (perShard[i] is { } flows)
                    context.Send(shards.At(i), new ShardFlows(flows));
            }
            context.Respond(new SessionRecordsAck { Accepted = count });

            void Route(IEnumerable<FlowView> views, bool resent)
            {
                foreach (var flow in views)
                {
                    if (flow.Closed && !records.Moved)
                    {
                        closedFlows.Save(flow);
                        flow.Steps.Clear();
                        flow.StepsTruncated = false;
                    }
                    var key = SessionKeys.For(flow);
                    (perShard[shards.IndexOf(key)] ??= new List<ShardFlow>(count)).Add(new ShardFlow(key, flow, resent));
                    if (!resent)
                        live.Flow(flow);
                }
            }
        }
        return Task.CompletedTask;
    }
}
