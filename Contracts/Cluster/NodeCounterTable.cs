namespace FlowMesh.Contracts.Cluster;

/// <summary>
/// Every figure of a Node's status (the <c>NodeStatus</c> message, named as in the .proto),
/// read by the Node's warnings, the gateway's <c>/api/cluster</c> and <c>/metrics</c>, and
/// <c>cluster status</c>. A unit test holds it to the message: a field added there and not
/// here fails the build's tests.
/// </summary>
public static class NodeCounterTable
{
    public static IReadOnlyList<CounterSpec> All { get; } =
    [
        new("kernel_records", "Records read from the kernel's ring buffers."),
        new("kernel_drops", "Records the kernel could not write: a ring buffer was full.", IsLoss: true),
        new("kernel_storage_failures", "Sockets whose per-socket kernel storage could not be made: their events were not recorded.", IsLoss: true),
        new("decode_errors", "Records that could not be read (wrong size or version).", IsLoss: true),
        new("flow_events", "Records applied to flows."),
        new("listener_events", "Records about listening sockets (not flows)."),
        new("socketless_resets", "Resets sent with no socket (e.g. to a closed port): no flow carries them."),
        new("flows_active", "Flows in memory: open, lingering after close, or being restored.", CounterKind.Gauge),
        new("flows_opened", "Flows followed from their first event."),
        new("flows_closed", "Flows that closed."),
        new("flows_passivated", "Idle open flows whose state was saved to Redis and left memory."),
        new("flows_restored", "Passivated flows brought back by a new event."),
        new("undeliverable", "Messages that reached no actor.", IsLoss: true),
        new("dead_letters", "Every dead letter the Node's actor system saw."),
        new("anomalies", "Events out of order, repeated or not expected in the flow's state."),
        new("apply_delay_p50_us", "Kernel timestamp to applied to its flow, median over the last 10 s (microseconds).", CounterKind.Gauge),
        new("apply_delay_p99_us", "Kernel timestamp to applied to its flow, P99 over the last 10 s (microseconds).", CounterKind.Gauge),
        new("late_events", "Events that came after their flow had closed and left memory: not applied, its record and session are settled."),
        new("flows_shed", "Flows not followed: the Node followed Flows:MaxLive already.", IsLoss: true),
        new("events_shed", "Events of shed flows, dropped (the flows are counted in flows_shed)."),
        new("horizon_expired", "Events applied before every CPU was read past them (a stalled reader held the ordering horizon past its bound)."),
        new("redis_failures", "Redis commands that failed; what they carried shows as a gap."),
        new("redis_writes", "Redis commands written."),
        new("state_conflicts", "Flow state saves refused by compare-and-set as stale."),
        new("session_delivered", "Flow views handed to an Aggregator."),
        new("session_undelivered", "Flow views no Aggregator took: none running, queue full, or closed ones unconfirmed after every resend.", IsLoss: true),
        new("session_resent", "Closed flows sent again: their Aggregator died or left, or never confirmed their session stored."),
        new("session_unconfirmed", "Closed flows handed over whose session is not yet confirmed stored.", CounterKind.Gauge),
        new("session_untracked", "Closed flows handed over but not kept for a resend (HandOff:MaxUnconfirmed reached)."),
        new("tls_refused", "Peers the cluster transport refused: no certificate, one from another CA, or plaintext."),
        new("tags_sent", "Client flows whose SYN carried this host's trace tag."),
        new("tags_echoed", "Client flows whose SYN-ACK echoed the tag back."),
        new("tags_received", "Server flows whose SYN carried a tag."),
        new("tags_forged", "Server flows whose tag the fleet did not sign for that connection (forged or replayed): not joined by it."),
        new("runtime_processes", "Processes whose runtime is watched (run queue, Go, .NET).", CounterKind.Gauge),
        new("runtime_not_watched", "Times a process with traced sockets could not be watched (counted per attempt: each of its flows, each kernel insert): Node:Runtime:MaxProcesses were watched already.", IsLoss: true),
        new("runtime_events_lost", ".NET runtime events lost: EventPipe's own losses, and GC pauses shed from a watcher's full ring.", IsLoss: true),
        new("runtime_table_full", "Run-queue waits the kernel could not time: its table was full (Node:Runtime:MaxThreads).", IsLoss: true),
        new("listeners", "Listening sockets watched for queue overflows.", CounterKind.Gauge),
        new("listen_drops", "Segments the host's listeners dropped: SYNs refused because a SYN or accept queue was full, and handshake segments discarded (a repeated SYN under loss). The application's loss, not FlowMesh's."),
        new("listeners_unwatched", "Listeners not watched at a look: Node:MaxListeners were watched already.", IsLoss: true),
        new("listen_overflows", "Connection attempts the host refused because an accept queue was full (the namespace's TcpExt ListenOverflows since the Node started)."),
        new("zero_window_adverts", "Times the host's sockets advertised a zero receive window: an application read too slowly (TcpExt TCPToZeroWindowAdv since the Node started)."),
        new("cgroups_unresolved", "Lookups of a flow's cgroup that found no cgroup with its id (removed before it could be read): the flow has no workload name."),
        new("cgroup_names_reset", "Times the table of cgroup names reached Node:MaxCgroups and started over."),
        new("zero_window_drops", "Segments the host dropped because the receive window was zero (TcpExt TCPZeroWindowDrop since the Node started)."),
        new("kubernetes_pods", "Pods on this node known from the Kubernetes API (Node:Kubernetes): a flow in one of them is named by its namespace and owner.", CounterKind.Gauge),
        new("kubernetes_errors", "Kubernetes API requests that failed (retried with backoff); until the first list, pods are named by their cgroup only."),
        new("kubernetes_pods_shed", "Pods not kept: the Node knew Node:Kubernetes:MaxPods already (their flows are named by their cgroup only)."),
    ];

    /// <summary>The status fields that are not figures: identity, time and the member list.</summary>
    public static IReadOnlySet<string> NotFigures { get; } = new HashSet<string>(StringComparer.Ordinal) { "host_id", "member_id", "updated_unix_ms", "uptime_ms", "members", "runtime_unavailable" };
}
