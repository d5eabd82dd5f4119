namespace FlowMesh.Contracts.Cluster;

/// <summary>
/// Every figure an Aggregator publishes (its Redis status hash, named as here), read by
/// its warnings, the gateway's <c>/api/cluster</c> and <c>/metrics</c>, and
/// <c>cluster status</c>. The Aggregator refuses to start if it has no reader for one.
/// </summary>
public static class AggregatorCounterTable
{
    public static IReadOnlyList<CounterSpec> All { get; } =
    [
        new("flows_received", "Flows handed over by Nodes."),
        new("sessions_tag", "Sessions settled, joined by their trace tag.", Family: "sessions", Label: "join=\"tag\""),
        new("sessions_isn", "Sessions settled, joined by their ISN pair.", Family: "sessions", Label: "join=\"isn\""),
        new("sessions_tuple", "Sessions settled, joined by their addresses and ports.", Family: "sessions", Label: "join=\"tuple\""),
        new("sessions_one_sided", "Sessions settled with one side (the peer is outside the fleet).", Family: "sessions", Label: "join=\"one-sided\""),
        new("sessions_active", "Sessions in memory.", CounterKind.Gauge),
        new("late_joins", "Sides that arrived after their session had settled one-sided."),
        new("moved_to_peer", "Mid-life sides handed from their tuple session to a peer's tag or ISN session."),
        new("ambiguous", "Sessions whose join had more than one candidate."),
        new("bytes_mismatch", "Sessions whose two sides disagree on the bytes sent."),
        new("sessions_incomplete", "Sessions whose hosts lost kernel events while they lived."),
        // Not a loss by itself: the closed sides of a session not stored stay unconfirmed, so their
        // Nodes send them again; what never gets stored ends as session_undelivered on a Node.
        new("sessions_not_stored", "Session writes Redis refused or missed; their Nodes resend the sides, so the session is stored later or counted as session_undelivered."),
        new("flows_unrecorded", "Closed flows whose record Redis could not take.", IsLoss: true),
        new("sessions_exported", "Sessions exported as traces over OTLP."),
        new("spans_dropped", "OTLP spans lost: the exporter's queue was full or the collector refused or did not answer.", IsLoss: true),
        new("sessions_shed", "New sessions not held: the Aggregator held Sessions:MaxInMemory already.", IsLoss: true),
        new("flows_over_session_cap", "Flows left out of a session that held Sessions:MaxFlowsPerSession already.", IsLoss: true),
        new("edges", "Edges with their own counters (at most Sessions:MaxEdges; the rest count under other>other).", CounterKind.Gauge),
        new("sessions_on_other_edge", "Sessions counted under the other>other edge: Sessions:MaxEdges was reached."),
        new("metrics_edges", "Edges with Prometheus series of their own (at most Metrics:MaxEdges; the rest count under client=\"other\",server=\"other\").", CounterKind.Gauge),
        new("sessions_on_other_metrics_edge", "Sessions counted on /metrics under client=\"other\",server=\"other\": Metrics:MaxEdges was reached."),
        new("sessions_host_lost", "Sessions with an open side on a host whose Node left the cluster."),
        new("flows_resent", "Closed flows Nodes sent again (their first Aggregator died, left, or never confirmed them stored)."),
        new("flows_resent_already_stored", "Resent flows whose session was already stored complete."),
        new("flows_undeliverable", "Flows that reached no session shard.", IsLoss: true),
        new("moved_undelivered", "Mid-life sides that could not be moved to their peer's Aggregator.", IsLoss: true),
        new("dead_letters", "Dead letters in the Aggregator's actor system."),
        new("tls_refused", "Peers the cluster transport refused: no certificate, one from another CA, or plaintext."),
        new("redis_failures", "Redis commands that failed."),
        new("redis_used_memory", "Bytes the state Redis uses (INFO memory).", CounterKind.Gauge),
        new("redis_maxmemory", "The state Redis' maxmemory in bytes (0: no limit).", CounterKind.Gauge),
        new("redis_evicted_keys", "Keys the state Redis evicted for memory (INFO stats), since it started."),
        new("latency_values", "Values added to latency sketches."),
        new("latency_sketches_malformed", "Stored latency sketches that could not be read.", IsLoss: true),
        new("records_malformed", "Stored flows or sessions that could not be read.", IsLoss: true),
        new("stream_events_published", "Live events published for streams."),
        new("stream_events_dropped", "Live events lost: publisher queue full, publish failed, or a stream client too slow.", IsLoss: true),
        new("stream_batches_malformed", "Live event batches from Redis that could not be read.", IsLoss: true),
        new("stream_clients", "Clients of /api/stream on this gateway.", CounterKind.Gauge),
        new("stream_refused", "Streams refused: the gateway served Gateway:MaxStreamClients already."),
        new("stream_tickets_issued", "Stream tickets issued by POST /api/stream/ticket."),
        new("stream_tickets_refused", "Stream tickets refused: the gateway held Gateway:MaxStreamTickets unexpired ones already."),
        new("requests_limited", "Gateway requests refused with 429: their client was past Gateway:RequestsPerSecond and Gateway:Burst."),
        new("requests_unauthorized", "Gateway requests refused with 401: no token, a wrong one, a token in a URL, or a stream ticket unknown, expired or used."),
        new("anomalies_connect", "Anomalies found: connect latency beyond its edge's baseline.", Family: "anomalies", Label: "metric=\"connect\""),
        new("anomalies_duration", "Anomalies found: session duration beyond its edge's baseline.", Family: "anomalies", Label: "metric=\"duration\""),
        new("anomalies_rtt", "Anomalies found: RTT beyond its edge's baseline.", Family: "anomalies", Label: "metric=\"rtt\""),
        new("anomalies_retransmissions", "Anomalies found: retransmission rate (a session's, or an edge's over 10 s) beyond its baseline.", Family: "anomalies", Label: "metric=\"retransmissions\""),
        new("anomalies_resets", "Anomalies found: an edge's reset rate over 10 s beyond its baseline.", Family: "anomalies", Label: "metric=\"resets\""),
        new("anomalies_not_stored", "Anomalies Redis could not take.", IsLoss: true),
        new("anomalies_malformed", "Stored anomalies the clustering pass could not read (left out of its clusters).", IsLoss: true),
        new("anomaly_edges", "Edges with anomaly baselines (at most Anomalies:MaxEdges).", CounterKind.Gauge),
        new("anomaly_sessions_unjudged", "Sessions not judged for anomalies: their edge came past Anomalies:MaxEdges."),
        new("anomaly_clusters", "Clusters of anomalous sessions in the last pass.", CounterKind.Gauge),
        new("kubernetes_addresses", "Pod address tenancies known from the Kubernetes API (Aggregator:Kubernetes), current and for Kubernetes:History after they ended.", CounterKind.Gauge),
        new("kubernetes_services", "Service cluster addresses known from the Kubernetes API.", CounterKind.Gauge),
        new("kubernetes_errors", "Kubernetes API requests that failed (retried with backoff); until the first list, unseen ends are named by address."),
        new("kubernetes_history_shed", "Pod address tenancies forgotten early or never kept: more than Kubernetes:MaxPods (those addresses are named by address)."),
        new("requests_host_refused", "Gateway requests refused with 400 by a loopback gateway without a token: a Host it does not answer to (Gateway:AllowedHosts)."),
    ];
}
