using FlowMesh.Contracts.Identity;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Gateway;

// The gateway's JSON, camelCase on the wire (ASP.NET Core's web defaults). Records
// rather than the protobuf messages' own JSON: uint64 would be strings there, enums
// would carry their proto prefixes, and times would stay on the kernel's clock.

/// <summary>A page of a list: the items and the cursor to pass as <c>cursor</c> for the next page (null at the end).</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? Next);

public sealed record SessionSideJson(
    string Host, string FlowId, string Address, uint Port, string PeerAddress, uint PeerPort,
    uint Pid, string Process, string State, bool Closed, string CloseReason,
    long StartUnixMs, long EstablishedUnixMs, long EndUnixMs, double HandshakeMs, double RttMs, double DurationMs,
    ulong BytesSent, ulong BytesReceived, uint Retransmissions, uint ResetsSent, uint ResetsReceived, bool EventsLost, bool MidLife,
    RuntimeJson? Runtime, HealthJson? Health, WorkloadJson? Workload);

/// <summary>
/// A side's TCP health: the kernel's figures at the side's latest event that read them
/// (what `ss -ti` shows), retransmissions by kind, dropped segments, and the first reset's
/// phase and cause. Null: not known (no stats were read, or no reset happened).
/// </summary>
public sealed record HealthJson(
    double? MinRttMs, double RttVarMs, uint Cwnd, ulong DeliveryRateBytesPerSecond, ulong BytesRetransmitted,
    RetransmitsJson Retransmits, uint SpuriousRetransmits, uint ReorderingSeen, uint OutOfOrderPackets,
    uint Drops, string? DropReason, string? ResetPhase, string? ResetCause, string? ResetReason, string? Error)
{
    public static HealthJson? From(TcpHealth? h) => h is null ? null : new(
        h.MinRttUs > 0 ? h.MinRttUs / 1000.0 : null, h.RttVarUs / 1000.0, h.Cwnd, h.DeliveryRate, h.BytesRetransmitted,
        new RetransmitsJson(h.RetransmitsTimeout, h.RetransmitsFast, h.RetransmitsProbe, h.RetransmitsSyn),
        h.SpuriousRetransmits, h.ReorderingSeen, h.OutOfOrderPackets,
        h.Drops, NullIfEmpty(h.DropReason), NullIfEmpty(h.ResetPhase), NullIfEmpty(h.ResetCause), NullIfEmpty(h.ResetReason), NullIfEmpty(h.Error));

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;
}

/// <summary>The workload a side's process ran in, from its host's cgroups; null parts are unknown.</summary>
public sealed record WorkloadJson(string? Name, string Cgroup, string? Unit, string? ContainerId, string? ContainerRuntime, string? PodUid,
    string? Namespace, string? Pod, string? OwnerKind, string? Owner, IReadOnlyDictionary<string, string>? Labels)
{
    public static WorkloadJson? From(Workload? w) => w is null ? null : new(
        WorkloadNames.Of(w), w.Cgroup, NullIfEmpty(w.Unit), NullIfEmpty(w.ContainerId), NullIfEmpty(w.ContainerRuntime), NullIfEmpty(w.PodUid),
        NullIfEmpty(w.Namespace), NullIfEmpty(w.Pod), NullIfEmpty(w.OwnerKind), NullIfEmpty(w.Owner), w.Labels.Count == 0 ? null : w.Labels);

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;
}

/// <summary>Retransmissions by kind: after a timeout, fast (duplicate ACKs, SACK), tail-loss probes, SYN or SYN-ACK.</summary>
public sealed record RetransmitsJson(uint Timeout, uint Fast, uint Probe, uint Syn);

/// <summary>
/// Where a side's time went inside its process: the accept queue, the run queue, the Go
/// scheduler, GC pauses. Null fields were not measured (see the Runtime section of the README).
/// </summary>
public sealed record RuntimeJson(
    string? Runtime, double? AcceptWaitMs, uint? AcceptedThread, ulong? Goroutine,
    double? RunQueueP99Ms, ulong RunQueueSamples, double? GoScheduleP99Ms, ulong GoScheduleSamples, long? RunnableGoroutines,
    int? GcPauses, double? GcPauseOverlapMs)
{
    public static RuntimeJson? From(FlowRuntime? r) => r is null ? null : new(
        r.Runtime.Length == 0 ? null : r.Runtime,
        r.AcceptedNs != 0 ? r.AcceptWaitUs / 1000.0 : null,
        r.AcceptedTid != 0 ? r.AcceptedTid : null,
        r.GoroutineId != 0 ? r.GoroutineId : null,
        r.RunQueueSamples > 0 ? Math.Round(r.RunQueueP99Us / 1000, 4) : null, r.RunQueueSamples,
        r.GoScheduleSamples > 0 ? Math.Round(r.GoScheduleP99Us / 1000, 4) : null, r.GoScheduleSamples,
        r.Runtime == "go" ? r.RunnableGoroutines : null,
        r.GcWatched ? (int)r.GcPauses : null,
        r.GcWatched ? r.GcPauseOverlapUs / 1000.0 : null);
}

/// <summary>A process a Node watches, as it last reported it.</summary>
public sealed record ProcessRuntimeJson(string Process, string Host, uint Pid, string Name, string? Runtime, string? GoVersion, bool GoScheduleTraced,
    long? RunnableGoroutines, ulong RunQueueWaits, ulong? GcPauses, double? GcPauseMs, double? ThreadPoolQueue, long UpdatedUnixMs, string? Note)
{
    public static ProcessRuntimeJson From(ProcessRuntimeView p) => new(p.HostId + "/" + p.Comm, p.HostId, p.Pid, p.Comm,
        p.Runtime.Length == 0 ? null : p.Runtime, p.GoVersion.Length == 0 ? null : p.GoVersion, p.GoScheduleTraced,
        p.Runtime == "go" ? p.RunnableGoroutines : null, p.RunQueueWaits,
        p.Runtime == "dotnet" ? p.GcPauses : null, p.Runtime == "dotnet" ? p.GcPauseMs : null, p.Runtime == "dotnet" ? p.ThreadPoolQueue : null,
        p.UpdatedUnixMs, p.Note.Length == 0 ? null : p.Note);
}

/// <summary>One 10 s bucket of a process's runtime series beside its edge's latency.</summary>
public sealed record RuntimeBucketJson(long StartUnixMs,
    double? RunQueueP50Ms, double? RunQueueP99Ms, long RunQueueWaits, double? GoScheduleP99Ms, long GoScheduleWaits,
    long GcPauses, double GcPauseMs, double? EdgeDurationP99Ms, double? EdgeConnectP99Ms, long EdgeSessions);

/// <summary>
/// A process's runtime over a window, bucket by bucket, beside the edge it serves, and the
/// Pearson correlation of the two P99 series (null with fewer than three buckets that have both).
/// </summary>
public sealed record RuntimeSeriesJson(string Process, string? Edge, string Window, long FromUnixMs, long ToUnixMs,
    IReadOnlyList<ProcessRuntimeJson> Processes, IReadOnlyList<RuntimeBucketJson> Buckets,
    double? RunQueueVsDurationCorrelation, double? RunQueueVsConnectCorrelation);

public sealed record FlowStepJson(long TimeUnixNs, string Event, string OldState, string NewState);

public sealed record LatencyJson(string? Edge, string? Host, string Metric, string Window, long FromUnixMs, long ToUnixMs,
    long Count, double? P50Ms, double? P90Ms, double? P99Ms, double? P999Ms, double? MinMs, double? MaxMs, double? MeanMs);

/// <summary>Counts per time column (rows) and latency bin (columns); a bin holds values up to its bound and above the previous one.</summary>
public sealed record HeatmapJson(string? Edge, string? Host, string Metric, string Window, long FromUnixMs, long ToUnixMs,
    int ColumnSeconds, IReadOnlyList<long> Times, IReadOnlyList<double> BinUpperMs, IReadOnlyList<IReadOnlyList<long>> Counts, long Total);

public sealed record TagSurvivalJson(long Sent, long Survived, long StrippedOnPath, long EchoStripped, long PeerNotInstrumented, long NoHandshake, double? SurvivalRatio);

/// <summary>
/// An edge. <c>ListenDrops</c>: connection attempts the server's listener dropped because its SYN
/// or accept queue was full (they never became sessions), as its host's Node counted them.
/// </summary>
/// <summary>An edge of the service map; <c>ServerEndpoint</c> is the address:port its latest session dialled.</summary>
public sealed record EdgeJson(string Edge, string Client, string Server, long Sessions, long Errors, double? P99Ms, TagSurvivalJson Tags, long ListenDrops,
    string? ServerEndpoint);

public sealed record MemberJson(string MemberId, string Role, string HostId, string Address, long StartedUnixMs, bool Healthy, long? UpdatedUnixMs,
    IReadOnlyDictionary<string, long> Counters, long Drops);

/// <summary>
/// The cluster: its members, <c>TotalDrops</c> and <c>Drops</c> (every loss counter summed over
/// the members running now) and <c>LossTotals</c> (what each loss counter has counted since the
/// cluster's Redis began, across member restarts).
/// </summary>
public sealed record ClusterJson(string Name, IReadOnlyList<MemberJson> Members, long TotalDrops, IReadOnlyDictionary<string, long> Drops,
    IReadOnlyDictionary<string, long> LossTotals);

/// <summary>A stream ticket: pass it as <c>/api/stream?ticket=</c> once, before <see cref="ExpiresUnixMs"/>, to the gateway that issued it.</summary>
public sealed record StreamTicketJson(string Ticket, long ExpiresUnixMs);
