namespace FlowMesh.Contracts.Cluster;

/// <summary>
/// Every Redis key FlowMesh uses, in one place. All keys of one cluster share the
/// prefix <c>fm:{cluster}:</c>, so several clusters can share a Redis.
/// </summary>
public sealed class RedisKeys(string clusterName)
{
    public string ClusterName { get; } = clusterName;
    private string Prefix { get; } = $"fm:{clusterName}:";

    /// <summary>ZSET: member id, scored by its lease expiry (Redis server time, ms).</summary>
    public string MemberLeases => Prefix + "members";

    /// <summary>HASH: member id to its <c>MemberRegistration</c> (protobuf).</summary>
    public string MemberRegistrations => Prefix + "member-info";

    /// <summary>ZSET: member ids that left gracefully, scored by when (ms); read by members that missed the notice.</summary>
    public string MemberDepartures => Prefix + "left";

    /// <summary>HASH: pid to <c>ProcessRuntimeView</c> of the processes one host's Node watches (expires when the Node stops writing it).</summary>
    public string RuntimeProcesses(string hostId) => Prefix + "rt-procs:" + hostId;

    /// <summary>SET: the hosts whose Nodes write a runtime process list.</summary>
    public string RuntimeHosts => Prefix + "rt-hosts";

    /// <summary>Pub/sub channel: a member joined, renewed after a gap, or left.</summary>
    public string MembershipChannel => Prefix + "membership";

    /// <summary>HASH: a Node's <c>NodeStatus</c> counters, refreshed every second, expiring when the Node is gone.</summary>
    public string NodeStatus(string hostId) => Prefix + "node:" + hostId;

    /// <summary>
    /// HASH: every loss counter (see <see cref="CounterSpec.IsLoss"/>) to what it has counted
    /// cluster-wide since this Redis began: each member adds what its counters grew by, so the
    /// totals outlive the members' restarts.
    /// </summary>
    public string LossTotals => Prefix + "losses";

    /// <summary>SET: host ids that have published a status.</summary>
    public string Nodes => Prefix + "nodes";

    /// <summary>Hash: server endpoint ("10.0.0.2:6379") to the drops its listener made, summed over the Nodes that saw them.</summary>
    public string ListenDrops => Prefix + "listen-drops";

    /// <summary>HASH {etag, view}: the saved state of an open flow whose actor was passivated.</summary>
    public string FlowState(string hostId, ulong cookie) => Prefix + "flow-state:" + hostId + "/" + cookie.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>STRING: a closed flow's <c>FlowView</c> (protobuf), kept for history with a TTL.</summary>
    public string ClosedFlow(string hostId, ulong cookie) => Prefix + "flow:" + hostId + "/" + cookie.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>ZSET: closed flow identities scored by close time (Unix ms), for listing; trimmed with the TTL.</summary>
    public string ClosedFlowIndex => Prefix + "flows-closed";

    /// <summary>STRING: a session's <c>SessionView</c> (protobuf), kept with a TTL.</summary>
    public string Session(string id) => Prefix + "session:" + id;

    /// <summary>ZSET: session ids scored by their end (or latest) time (Unix ms); trimmed with the TTL.</summary>
    public string SessionIndex => Prefix + "sessions";

    /// <summary>STRING: an anomaly's <c>AnomalyView</c> (protobuf), kept with a TTL.</summary>
    public string Anomaly(string id) => Prefix + "anomaly:" + id;

    /// <summary>ZSET: anomaly ids scored by their time (Unix ms); trimmed with the TTL.</summary>
    public string AnomalyIndex => Prefix + "anomalies";

    /// <summary>STRING: the latest <c>AnomalyClusters</c> (protobuf), written by the Aggregators every Anomalies:ClusterSeconds.</summary>
    public string AnomalyClusters => Prefix + "anomaly-clusters";

    /// <summary>
    /// STRING: the session key (tag or ISN pair) of a one-sided session, under its 5-tuple,
    /// kept for a few join windows: where a side first seen mid-life (known only by its
    /// tuple) finds its peer.
    /// </summary>
    public string TupleAlias(string tupleKey) => Prefix + "tuple-alias:" + tupleKey;

    /// <summary>HASH: an Aggregator's counters, refreshed every second, expiring when it is gone.</summary>
    public string AggregatorStatus(string memberId) => Prefix + "aggregator:" + memberId;

    /// <summary>HASH: trace tag survival counts of one edge (<c>{client workload}&gt;{server address:port}</c>), added to by every Aggregator.</summary>
    public string TagEdge(string edge) => Prefix + "tag-edge:" + edge;

    /// <summary>SET: the edges that have tag survival counts.</summary>
    public string TagEdges => Prefix + "tag-edges";

    /// <summary>
    /// HASH: member id to its <c>LatencySketchData</c> for one series (scope, metric) and one
    /// 10 s bucket (its start, Unix seconds); every member writes its own field, a read merges them.
    /// </summary>
    public string LatencyBucket(string scope, string metric, long bucketUnixSeconds) =>
        Prefix + "lat:" + metric + ":" + bucketUnixSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":" + scope;

    /// <summary>Pub/sub channel: flow and session events for live streams (published only while someone listens).</summary>
    public string EventChannel => Prefix + "events";
}
