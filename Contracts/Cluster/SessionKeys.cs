using System.Globalization;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Contracts.Cluster;

/// <summary>
/// Which session a flow belongs to. Both ends of a connection, seen on two hosts,
/// must arrive at the same key, best key first:
/// <list type="number">
/// <item>the trace tag, when the flow knows the peer has it too (the client saw it
/// echoed, the server received it);</item>
/// <item>the pair of initial sequence numbers, client's then server's (NAT rewrites
/// addresses, not sequence numbers);</item>
/// <item>the two endpoints, ordered so both sides agree, for flows first seen
/// mid-life (no ISNs) or that never completed a handshake.</item>
/// </list>
/// A SYN-ACK whose echo was stripped on its way back leaves the server under the tag
/// and the client under the ISN pair: both settle one-sided, and the client's
/// tag_sent without tag_echoed shows where the option went missing.
/// </summary>
public static class SessionKeys
{
    public const string Kind = "session";

    public static string For(FlowView flow)
    {
        // A flow keeps the key of its first hand-off (see FlowView.session_key).
        if (flow.SessionKey.Length > 0)
            return flow.SessionKey;
        if (flow.TraceTag != 0 && (flow.TagEchoed || flow.TagReceived))
            return "tag:" + flow.TraceTag.ToString("x16", CultureInfo.InvariantCulture);
        if (flow.IsnKnown && flow.Role != FlowRole.Unknown)
        {
            var (client, server) = flow.Role == FlowRole.Client ? (flow.IsnLocal, flow.IsnRemote) : (flow.IsnRemote, flow.IsnLocal);
            return string.Create(CultureInfo.InvariantCulture, $"isn:{client:x8}-{server:x8}");
        }
        return TupleKey(flow);
    }

    /// <summary>The key a flow has by its two endpoints alone, whatever better key it has.</summary>
    public static string TupleKey(FlowView flow) => "tuple:" + Tuple(flow);

    /// <summary>
    /// A side known only by its tuple that may belong to a peer keyed by tag or ISN pair:
    /// first seen mid-life (or its opening never reached this Node), so it has neither.
    /// </summary>
    public static bool KnownOnlyByTuple(FlowView flow) =>
        !flow.IsnKnown && flow.TraceTag == 0 && (flow.MidLife || flow.Role == FlowRole.Unknown);

    /// <summary>The method a key joins by.</summary>
    public static JoinMethod MethodOf(string key) =>
        key.StartsWith("tag:", StringComparison.Ordinal) ? JoinMethod.Tag
        : key.StartsWith("isn:", StringComparison.Ordinal) ? JoinMethod.Isn
        : JoinMethod.Tuple;

    /// <summary>
    /// The two endpoints in a fixed order, whatever each side's role: one end may have
    /// been seen from its SYN and the other only from mid-life.
    /// </summary>
    private static string Tuple(FlowView flow)
    {
        var local = Endpoint(flow.LocalAddress, flow.LocalPort);
        var remote = Endpoint(flow.RemoteAddress, flow.RemotePort);
        return string.CompareOrdinal(local, remote) <= 0 ? $"{local}|{remote}" : $"{remote}|{local}";
    }

    private static string Endpoint(string address, uint port) =>
        address.Contains(':', StringComparison.Ordinal) ? $"[{address}]:{port}" : $"{address}:{port}";
}
