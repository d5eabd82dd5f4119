using System.Globalization;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Identity;
using FlowMesh.Contracts.Messages;
using FlowMesh.Kubernetes;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// Builds a session from the flows that arrived under one key: which is the client
/// and which the server, how they were joined, and what the two views say together
/// (latencies from each side, bytes cross-checked, who reset, completeness). Pure:
/// no actor, no I/O.
/// </summary>
public static class SessionJoin
{
    /// <param name="key">The session key the flows arrived under.</param>
    /// <param name="flows">Its flows, one per (host, cookie).</param>
    /// <param name="id">The session's id when it has one already (a tuple session keeps the id of its first view).</param>
    /// <param name="owners">Who owned an address when (Kubernetes), to name an end whose host is not in the fleet.</param>
    public static SessionView Build(string key, IReadOnlyCollection<FlowView> flows, string? id = null, IAddressOwners? owners = null)
    {
        var (client, server, ambiguous) = Sides(flows);
        var view = new SessionView
        {
            Id = id ?? SessionId(key, flows),
            Ambiguous = ambiguous,
            Join = client is null || server is null ? JoinMethod.OneSided
                // A side first seen mid-life found under a tag or ISN key joined by its tuple.
                : client.JoinedByTuple || server.JoinedByTuple ? JoinMethod.Tuple
                : SessionKeys.MethodOf(key),
        };
        if (client is not null)
            view.Client = Side(client);
        if (server is not null)
            view.Server = Side(server);

        view.TraceTag = client?.TraceTag ?? server?.TraceTag ?? 0;
        view.TagSent = client?.TagSent ?? false;
        view.TagEchoed = client?.TagEchoed ?? false;
        view.TagSeenByServer = server?.TagReceived ?? false;

        if (client is not null)
        {
            view.ConnectMs = client.HandshakeUs / 1000.0;
            view.ClientRttMs = client.SrttUs / 1000.0;
            view.ClientDurationMs = view.Client.DurationUs / 1000.0;
        }
        if (server is not null)
        {
            view.ServerHandshakeMs = server.HandshakeUs / 1000.0;
            view.ServerRttMs = server.SrttUs / 1000.0;
            view.ServerDurationMs = view.Server.DurationUs / 1000.0;
        }

        // What the client sent and the server acknowledged are the same bytes seen from
        // two hosts: prefer the sender's count, and flag a closed pair that disagrees.
        view.BytesClientToServer = client?.BytesSent ?? server!.BytesReceived;
        view.BytesServerToClient = server?.BytesSent ?? client!.BytesReceived;
        view.BytesMismatch = client is { Closed: true } && server is { Closed: true } &&
            (client.BytesSent != server.BytesReceived || server.BytesSent != client.BytesReceived);

        view.Reset = WhoReset(client, server);
        view.Complete = !(client?.EventsLost ?? false) && !(server?.EventsLost ?? false);
        view.Closed = (client?.Closed ?? true) && (server?.Closed ?? true);
        var (first, other) = (view.Client ?? view.Server!, view.Server ?? view.Client!);
        view.StartUnixMs = Math.Min(first.StartUnixNs, other.StartUnixNs) / 1_000_000;
        view.EndUnixMs = Math.Max(first.EndUnixNs, other.EndUnixNs) / 1_000_000;

        view.ClientHost = client?.HostId ?? "";
        view.ServerHost = server?.HostId ?? "";
        view.ClientWorkload = client is null ? "" : Workload(client);
        // The address the client dialled (before any NAT), else the one the server listened on.
        view.ServerEndpoint = client is not null ? Endpoint(client.RemoteAddress, client.RemotePort) : Endpoint(server!.LocalAddress, server.LocalPort);
        (view.ClientEnd, view.ServerEnd) = Ends(view, client, server, owners);
        return view;
    }

    /// <summary>
    /// The edge's ends as workloads: each side seen is named by its own host (its cgroup and,
    /// in Kubernetes, its pod); a side not seen by who owned its address when the session
    /// began: a Service the client dialled, else the pod that held the address. Without
    /// either, the process name and the address:port, as <c>client_workload</c> and <c>server_endpoint</c>.
    /// </summary>
    private static (string Client, string Server) Ends(SessionView view, FlowView? client, FlowView? server, IAddressOwners? owners)
    {
        var at = view.StartUnixMs;
        var clientEnd = client is not null
            ? WorkloadNames.Of(client.Workload) ?? view.ClientWorkload
            : owners?.PodAt(server!.RemoteAddress, at) ?? "";
        var (address, port) = client is not null ? (client.RemoteAddress, client.RemotePort) : (server!.LocalAddress, server.LocalPort);
        var serverEnd = server is not null && WorkloadNames.Of(server.Workload) is { } own ? WorkloadNames.Server(own, server.LocalPort)
            : owners?.ServiceAt(address, port) is { } service ? WorkloadNames.Server(service, port)
            : owners?.PodAt(address, at) is { } pod ? WorkloadNames.Server(pod, port)
            : view.ServerEndpoint;
        return (clientEnd, serverEnd);
    }

    /// <summary>
    /// Client and server among the flows. A role the kernel saw wins; a flow first seen
    /// mid-life takes the role its peer does not have, or, if neither is known, the end
    /// on the lower port is taken for the server. More than one candidate for a side
    /// (a tuple key reused by a later connection) keeps the closest pair, flagged.
    /// </summary>
    private static (FlowView? Client, FlowView? Server, bool Ambiguous) Sides(IReadOnlyCollection<FlowView> flows)
    {
        // The common case without allocating: at most one flow of each known role.
        FlowView? client = null, server = null;
        var simple = true;
        foreach (var f in flows)
        {
            if (f.Role == FlowRole.Client && client is null)
                client = f;
            else if (f.Role == FlowRole.Server && server is null)
                server = f;
            else
                simple = false;
        }
        if (simple)
            return (client, server, false);
        var clients = flows.Where(f => f.Role == FlowRole.Client).ToList();
        var servers = flows.Where(f => f.Role == FlowRole.Server).ToList();
        foreach (var f in flows.Where(f => f.Role == FlowRole.Unknown))
        {
            if (clients.Count > 0 && servers.Count == 0)
                servers.Add(f);
            else if (servers.Count > 0 && clients.Count == 0)
                clients.Add(f);
            else if (f.LocalPort < f.RemotePort)
                servers.Add(f);
            else
                clients.Add(f);
        }
        var ambiguous = clients.Count > 1 || servers.Count > 1;
        if (!ambiguous)
            return (clients.FirstOrDefault(), servers.FirstOrDefault(), false);
        if (clients.Count == 0 || servers.Count == 0)
            return (clients.FirstOrDefault(), servers.FirstOrDefault(), true);
        var best = clients.SelectMany(c => servers.Select(s => (c, s)))
            .MinBy(p => Math.Abs(StartNs(p.c) - StartNs(p.s)));
        return (best.c, best.s, true);
    }

    private static long StartNs(FlowView f) => (long)(f.SynNs != 0 ? f.SynNs : f.FirstSeenNs) + f.WallClockOffsetNs;

    private static SessionSide Side(FlowView f)
    {
        var start = StartNs(f);
        var endMono = f.ClosedNs != 0 ? f.ClosedNs : f.LastEventNs;
        var end = (long)endMono + f.WallClockOffsetNs;
        return new SessionSide
        {
            HostId = f.HostId,
            Cookie = f.Cookie,
            LocalAddress = f.LocalAddress,
            LocalPort = f.LocalPort,
            RemoteAddress = f.RemoteAddress,
            RemotePort = f.RemotePort,
            Pid = f.Pid,
            Comm = f.Comm,
            CgroupId = f.CgroupId,
            State = f.State,
            Closed = f.Closed,
            CloseReason = f.CloseReason,
            StartUnixNs = start,
            EstablishedUnixNs = f.EstablishedNs != 0 ? (long)f.EstablishedNs + f.WallClockOffsetNs : 0,
            EndUnixNs = end,
            HandshakeUs = f.HandshakeUs,
            SrttUs = f.SrttUs,
            DurationUs = (ulong)Math.Max(0, (end - start) / 1000),
            BytesSent = f.BytesSent,
            BytesReceived = f.BytesReceived,
            Retransmissions = f.Retransmissions,
            SegmentsOut = f.SegmentsOut,
            SegmentsIn = f.SegmentsIn,
            ResetsSent = f.ResetsSent,
            ResetsReceived = f.ResetsReceived,
            EventsLost = f.EventsLost,
            MidLife = f.MidLife,
            IsnKnown = f.IsnKnown,
            IsnLocal = f.IsnLocal,
            IsnRemote = f.IsnRemote,
            Runtime = f.Runtime,
            Health = f.Health,
            Workload = f.Workload,
        };
    }

    /// <summary>Whether <paramref name="stored"/> already holds every side of <paramref name="view"/>, each as far as the view knows it (closed if it is).</summary>
    public static bool Covers(SessionView stored, SessionView view) =>
        Holds(stored.Client, view.Client) && Holds(stored.Server, view.Server);

    private static bool Holds(SessionSide? stored, SessionSide? side) =>
        side is null || (stored is not null && stored.HostId == side.HostId && stored.Cookie == side.Cookie && (stored.Closed || !side.Closed));

    /// <summary>none, client or server: the side whose RST ended it, from whichever view saw it.</summary>
    private static string WhoReset(FlowView? client, FlowView? server)
    {
        if (client is not null)
        {
            if (client.CloseReason is CloseReason.Refused or CloseReason.ResetReceived)
                return "server";
            if (client.CloseReason == CloseReason.ResetSent)
                return "client";
        }
        if (server is not null)
        {
            if (server.CloseReason == CloseReason.ResetSent)
                return "server";
            if (server.CloseReason == CloseReason.ResetReceived)
                return "client";
        }
        return "none";
    }

    private static string Workload(FlowView f) =>
        !string.IsNullOrEmpty(f.Comm) ? f.Comm : f.CgroupId != 0 ? "cgroup:" + f.CgroupId.ToString(CultureInfo.InvariantCulture) : "unknown";

    private static string Endpoint(string address, uint port) =>
        address.Contains(':', StringComparison.Ordinal) ? $"[{address}]:{port}" : $"{address}:{port}";

    /// <summary>
    /// The key names one connection for tags and ISN pairs; a tuple key can come back for
    /// a later connection on the same ports, so its sessions also carry their start time.
    /// </summary>
    public static string SessionId(string key, IReadOnlyCollection<FlowView> flows) =>
        SessionKeys.MethodOf(key) == JoinMethod.Tuple
            ? key + "@" + (flows.Min(StartNs) / 1_000_000).ToString(CultureInfo.InvariantCulture)
            : key;
}
