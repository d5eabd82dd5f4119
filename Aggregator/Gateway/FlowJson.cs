using System.Globalization;
using FlowMesh.Aggregator.Sessions;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Gateway;

public sealed record FlowJson(
    string Id, string Host, ulong Cookie, bool Live, string Family, string LocalAddress, uint LocalPort, string RemoteAddress, uint RemotePort,
    string Role, bool MidLife, string State, bool Closed, string CloseReason, string ResetBy, string FirstFinBy,
    long StartUnixMs, long EstablishedUnixMs, long ClosedUnixMs, long LastEventUnixMs,
    double HandshakeMs, double RttMs, ulong BytesSent, ulong BytesReceived, uint SegmentsOut, uint SegmentsIn,
    uint Retransmissions, uint ResetsSent, uint ResetsReceived, uint Pid, string Process, ulong CgroupId,
    string? TraceTag, bool TagSent, bool TagEchoed, bool TagReceived, bool EventsLost,
    uint Events, uint Reordered, uint Duplicates, uint Unexpected, IReadOnlyList<FlowStepJson>? Steps, RuntimeJson? Runtime, HealthJson? Health, WorkloadJson? Workload)
{
    public static FlowJson From(FlowView f, bool live) => new(
        ClusterKinds.FlowIdentity(f.HostId, f.Cookie), f.HostId, f.Cookie, live, f.Family, f.LocalAddress, f.LocalPort, f.RemoteAddress, f.RemotePort,
        f.Role switch { FlowRole.Client => "client", FlowRole.Server => "server", _ => "unknown" },
        f.MidLife, f.State, f.Closed, SessionNames.CloseReason(f.CloseReason), SideName(f.ResetBy), SideName(f.FirstFinBy),
        FlowFilters.StartUnixMs(f), FlowFilters.WallMs(f, f.EstablishedNs), FlowFilters.WallMs(f, f.ClosedNs), FlowFilters.WallMs(f, f.LastEventNs),
        f.HandshakeUs / 1000.0, f.SrttUs / 1000.0, f.BytesSent, f.BytesReceived, f.SegmentsOut, f.SegmentsIn,
        f.Retransmissions, f.ResetsSent, f.ResetsReceived, f.Pid, f.Comm, f.CgroupId,
        f.TraceTag == 0 ? null : f.TraceTag.ToString("x16", CultureInfo.InvariantCulture), f.TagSent, f.TagEchoed, f.TagReceived, f.EventsLost,
        f.Events, f.Reordered, f.Duplicates, f.Unexpected,
        f.Steps.Count == 0 ? null : f.Steps.Select(s => new FlowStepJson((long)s.MonotonicNs + f.WallClockOffsetNs, s.Event, s.OldState, s.NewState)).ToList(),
        RuntimeJson.From(f.Runtime), HealthJson.From(f.Health), WorkloadJson.From(f.Workload));

    private static string SideName(FlowSide side) => side switch
    {
        FlowSide.Local => "local",
        FlowSide.Remote => "remote",
        _ => "none",
    };
}
