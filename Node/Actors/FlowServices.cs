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

    /// <summary>When set, told the kernel timestamp of every event as it is applied (the benchmark measures latency here).</summary>
    public Action<ulong>? OnApplied { get; set; }

    /// <summary>The processes behind the flows (Node:Runtime): adds their figures to each hand-off; null: not measured.</summary>
    internal Runtime.RuntimeMonitor? Runtime { get; set; }

    /// <summary>Names the cgroups of flows' processes (units, containers, pods); null: not named.</summary>
    internal Identity.NodeWorkloads? Workloads { get; set; }

    /// <summary>The host's kernel drop counter, as last sampled: a flow that sees it rise while it lives may have lost events.</summary>
    public Func<long> KernelDrops { get; set; } = () => 0;
}

/// <summary>Flow lifecycle settings.</summary>
public sealed record FlowOptions
{
    /// <summary>An open flow reports its view for its session this often (long-lived connections).</summary>
    public TimeSpan SessionReport { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A closed flow stays in its shard this long (for events just behind its close), then
    /// leaves memory; queries are answered from its record in Redis. Short on purpose:
    /// at a busy host's connection rate every second of linger is thousands of flows that
    /// outlive the young GC generation.
    /// </summary>
    public TimeSpan Linger { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>An open flow with no event for this long saves its state to Redis and passivates.</summary>
    public TimeSpan Idle { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The longest a flow waits for a CPU whose reader has stalled before applying (and
    /// handing over) events without it; each such event is counted (<c>horizon_expired</c>).
    /// </summary>
    public TimeSpan OrderingWait { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The most flows the Node follows at once (open ones, closed ones lingering, restores
    /// under way); a new flow beyond it is shed and counted (<c>flows_shed</c>), and so are
    /// its events, so a connection storm costs counts, not memory. The default comes from
    /// the memory the process may use (see <c>SettingsBinding.DefaultMaxLive</c>).
    /// </summary>
    public long MaxLive { get; init; } = 1_000_000;

    /// <summary>Saved state of a passivated open flow is kept this long.</summary>
    public TimeSpan OpenStateTtl { get; init; } = TimeSpan.FromDays(7);
}
