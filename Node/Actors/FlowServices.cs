using FlowMesh.Contracts.Messages;
using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.Actors;

/// <summary>What every flow shard of a Node shares.</summary>
public sealed record FlowServices(FlowStore Store, NodeCounters Counters, FlowOptions Options, WallClockOffset Clock)
{
    /// <summary>Hands a flow's view to its session: when it closes, and every so often while it is open (the session router plugs in here).</summary>
    public Action<FlowView>? ToSession { get; set; }

    /// <summary>Tells flows holding events when the ordering horizon has passed them; null: events apply as they arrive.</summary>
    internal HorizonDispatcher? Dispatcher { get; set; }

    /// <summary>The processes behind the flows (Node:Runtime): adds their figures to each hand-off; null: not measured.</summary>
    internal Runtime.RuntimeMonitor? Runtime { get; set; }

    /// <summary>Names the cgroups of flows' processes (units, containers, pods); null: not named.</summary>
    internal Identity.NodeWorkloads? Workloads { get; set; }

    /// <summary>The host's kernel drop counter, as last sampled: a flow that sees it rise while it lives may have lost events.</summary>
    public Func<long> KernelDrops { get; set; } = () => 0;
}
