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
            counters.FlowsIn(records.Flows.Count);
            var perShard = new List<(string, FlowView)>?[shards.Count];
            foreach (var flow in records.Flows)
            {
                if (flow.Closed && !records.Moved)
                {
                    closedFlows.Save(flow);
                    flow.Steps.Clear();
                    flow.StepsTruncated = false;
                }
                var key = SessionKeys.For(flow);
                (perShard[shards.IndexOf(key)] ??= new List<(string, FlowView)>(records.Flows.Count)).Add((key, flow));
                live.Flow(flow);
            }
            for (var i = 0; i < perShard.Length; i++)
            {
                if (perShard[i] is { } flows)
                    context.Send(shards.At(i), new ShardFlows(flows));
            }
            context.Respond(new SessionRecordsAck { Accepted = records.Flows.Count });
        }
        return Task.CompletedTask;
    }
}
