using System.Globalization;
using FlowMesh.Aggregator.Sessions;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Gateway;

public sealed record SessionJson(
    string Id, string Join, bool Ambiguous, string Edge, string AddressEdge, string ClientEnd, string ServerEnd, string ClientWorkload, string ServerEndpoint,
    SessionSideJson? Client, SessionSideJson? Server,
    double? ConnectMs, double DurationMs, double? ClientRttMs, double? ServerRttMs,
    ulong BytesClientToServer, ulong BytesServerToClient, bool BytesMismatch,
    string Reset, bool Complete, bool Closed, long StartUnixMs, long EndUnixMs,
    string? TraceTag, bool TagSent, bool TagEchoed, bool TagSeenByServer, IReadOnlyList<string> LostHosts)
{
    public static SessionJson From(SessionView s) => new(
        s.Id, SessionNames.Join(s.Join), s.Ambiguous, Edges.Of(s), Edges.AddressOf(s), ClientEndOf(s), ServerEndOf(s),
        s.ClientWorkload, s.ServerEndpoint, Side(s.Client), Side(s.Server),
        s.Client is { EstablishedUnixNs: > 0 } ? s.ConnectMs : null,
        DurationMsOf(s),
        s.ClientRttMs > 0 ? s.ClientRttMs : null, s.ServerRttMs > 0 ? s.ServerRttMs : null,
        s.BytesClientToServer, s.BytesServerToClient, s.BytesMismatch,
        s.Reset.Length == 0 ? "none" : s.Reset, s.Complete, s.Closed, s.StartUnixMs, s.EndUnixMs,
        s.TraceTag == 0 ? null : s.TraceTag.ToString("x16", CultureInfo.InvariantCulture), s.TagSent, s.TagEchoed, s.TagSeenByServer, [.. s.LostHosts]);

    private static string ClientEndOf(SessionView s) => s.ClientEnd.Length > 0 ? s.ClientEnd : s.ClientWorkload;

    private static string ServerEndOf(SessionView s) => s.ServerEnd.Length > 0 ? s.ServerEnd : s.ServerEndpoint;

    /// <summary>The session's length: the client's view when it was seen, else the server's.</summary>
    public static double DurationMsOf(SessionView s) => s.Client is not null ? s.ClientDurationMs : s.ServerDurationMs;

    private static SessionSideJson? Side(SessionSide? s) => s is null ? null : new(
        s.HostId, ClusterKinds.FlowIdentity(s.HostId, s.Cookie), s.LocalAddress, s.LocalPort, s.RemoteAddress, s.RemotePort,
        s.Pid, s.Comm, s.State, s.Closed, SessionNames.CloseReason(s.CloseReason),
        s.StartUnixNs / 1_000_000, s.EstablishedUnixNs / 1_000_000, s.EndUnixNs / 1_000_000,
        s.HandshakeUs / 1000.0, s.SrttUs / 1000.0, s.DurationUs / 1000.0,
        s.BytesSent, s.BytesReceived, s.Retransmissions, s.ResetsSent, s.ResetsReceived, s.EventsLost, s.MidLife,
        RuntimeJson.From(s.Runtime), HealthJson.From(s.Health), WorkloadJson.From(s.Workload));
}
