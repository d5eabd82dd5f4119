using System.Globalization;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// One end's half of a connection as the packets show it: its initial sequence number,
/// how far the peer acknowledged its sequence space, its FIN and its first RST.
/// Offsets are relative to the ISN (mod 2^32, so a wrap is harmless): 1 is the SYN,
/// the data follows, the FIN takes one more.
/// </summary>
internal sealed class WireSide
{
    public uint Isn { get; set; }
    public bool IsnKnown { get; set; }

    /// <summary>The highest acknowledgement the peer sent for this side's sequence space (0: none).</summary>
    public uint AckedByPeer { get; set; }

    /// <summary>Where this side's FIN sits, if it sent one.</summary>
    public uint? FinOffset { get; set; }

    /// <summary>When the peer's acknowledgement first covered that FIN (µs, wall clock).</summary>
    public long? FinAckedUs { get; set; }

    /// <summary>When this side sent its first RST (the earliest sighting: its own host's, at egress).</summary>
    public long? FirstRstUs { get; set; }

    /// <summary>Payload bytes the peer acknowledged: the SYN and the FIN take a sequence number each but are not data.</summary>
    public ulong BytesAcked => AckedByPeer == 0 ? 0 : AckedByPeer - 1u - (FinOffset is { } fin && AckedByPeer > fin ? 1u : 0u);

    public uint Offset(uint sequence) => unchecked(sequence - Isn);

    /// <summary>An offset ahead of what is known (ahead by less than half the sequence space).</summary>
    public static bool Ahead(uint offset, uint than) => offset != than && unchecked(offset - than) < 0x8000_0000u;

    public void MergeFrom(WireSide other)
    {
        if (Ahead(other.AckedByPeer, AckedByPeer))
            AckedByPeer = other.AckedByPeer;
        FinOffset ??= other.FinOffset;
        FinAckedUs = Earliest(FinAckedUs, other.FinAckedUs);
        FirstRstUs = Earliest(FirstRstUs, other.FirstRstUs);
    }

    public static long? Earliest(long? a, long? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);
}

/// <summary>
/// One TCP connection on the wire, keyed by its ISN pair (client's, then server's): ports
/// are reused within a run, ISNs are not. A connection with no SYN-ACK (refused, or never
/// answered) is keyed by the client's ISN alone.
/// </summary>
internal sealed class WireConnection
{
    public required string ClientAddress { get; init; }
    public required int ClientPort { get; init; }
    public required string ServerAddress { get; init; }
    public required int ServerPort { get; init; }

    /// <summary>The first SYN (µs, wall clock: the same clock FlowMesh's wall-clock times are in).</summary>
    public required long SynUs { get; set; }

    public WireSide Client { get; } = new();
    public WireSide Server { get; } = new();

    /// <summary>The client's ACK of the SYN-ACK was seen: SYN, SYN-ACK and ACK, a completed handshake.</summary>
    public bool HandshakeCompleted { get; set; }

    /// <summary>The hosts whose capture saw it.</summary>
    public SortedSet<string> SeenBy { get; } = new(StringComparer.Ordinal);

    public bool SynAckSeen => Server.IsnKnown;

    /// <summary>A SYN answered by an RST from the server's end: nothing listened there.</summary>
    public bool Refused => !SynAckSeen && Server.FirstRstUs is not null;

    public (uint Client, uint? Server) Key => (Client.Isn, SynAckSeen ? Server.Isn : null);

    /// <summary>When both FINs had been acknowledged, if they were.</summary>
    public long? FinExchangeCompletedUs =>
        Client.FinAckedUs is { } c && Server.FinAckedUs is { } s ? Math.Max(c, s) : null;

    /// <summary>
    /// Who reset it, as FlowMesh's <c>Reset</c> says it ("none", "client", "server"): the
    /// sender of the first RST; "server" for a refused connect. Null where there is no one
    /// answer to hold FlowMesh to: an RST after both FINs were acknowledged is a late
    /// segment's answer, not how the connection ended.
    /// </summary>
    public string? ExpectedReset
    {
        get
        {
            if (Refused)
                return "server";
            var (c, s) = (Client.FirstRstUs, Server.FirstRstUs);
            if (c is null && s is null)
                return "none";
            var first = WireSide.Earliest(c, s)!.Value;
            if (FinExchangeCompletedUs is { } closed && closed <= first)
                return null;
            return c == first ? "client" : "server";
        }
    }

    public string Describe() =>
        string.Create(CultureInfo.InvariantCulture,
            $"{ClientAddress}:{ClientPort}>{ServerAddress}:{ServerPort} isn {Client.Isn:x8}-{(SynAckSeen ? Server.Isn.ToString("x8", CultureInfo.InvariantCulture) : "none")} syn {SynUs / 1e6:F6}"
            + $" {(Refused ? "refused" : HandshakeCompleted ? "established" : "no handshake")} bytes {Client.BytesAcked}/{Server.BytesAcked} reset {ExpectedReset ?? "after close"} seen by {string.Join("+", SeenBy)}");
}

/// <summary>Packets to connections: each capture on its own (its order is exact), then the captures merged by ISN pair.</summary>
internal static class WireConnections
{
    /// <summary>
    /// The connections in one capture, in order of their SYN, and the packets that belong
    /// to none (a harness problem: the capture started before any traffic).
    /// </summary>
    public static (List<WireConnection> Connections, List<WirePacket> Strays) FromCapture(string host, IReadOnlyList<WirePacket> packets)
    {
        var connections = new List<WireConnection>();
        var strays = new List<WirePacket>();
        // The connection each address pair carries now; a new SYN on the pair (a reused port) starts the next one.
        var current = new Dictionary<(string, int, string, int), WireConnection>();
        foreach (var p in packets)
        {
            if (p.Syn && !p.HasAck)
            {
                var pair = (p.Source, p.SourcePort, p.Destination, p.DestinationPort);
                if (current.TryGetValue(pair, out var known) && known.Client.Isn == p.Seq)
                    continue; // a retransmitted SYN
                var opened = new WireConnection
                {
                    ClientAddress = p.Source, ClientPort = p.SourcePort, ServerAddress = p.Destination, ServerPort = p.DestinationPort, SynUs = p.TimeUs,
                };
                opened.Client.Isn = p.Seq ?? 0;
                opened.Client.IsnKnown = true;
                opened.SeenBy.Add(host);
                connections.Add(opened);
                current[pair] = opened;
                continue;
            }
            bool fromClient;
            if (current.TryGetValue((p.Source, p.SourcePort, p.Destination, p.DestinationPort), out var c))
                fromClient = true;
            else if (current.TryGetValue((p.Destination, p.DestinationPort, p.Source, p.SourcePort), out c))
                fromClient = false;
            else
            {
                strays.Add(p);
                continue;
            }
            var (self, peer) = fromClient ? (c.Client, c.Server) : (c.Server, c.Client);
            if (p.Syn)
            {
                // A SYN-ACK: the server's ISN (a retransmitted one carries the same).
                if (fromClient || (self.IsnKnown && self.Isn != p.Seq))
                {
                    strays.Add(p);
                    continue;
                }
                self.Isn = p.Seq ?? 0;
                self.IsnKnown = true;
            }
            if (p.Rst)
            {
                // The acknowledgement field of an RST acknowledges nothing: its receiver drops
                // the connection without processing it, so it is no count of bytes delivered.
                self.FirstRstUs ??= p.TimeUs;
                continue;
            }
            if (p.Fin && p.End is { } fin)
                self.FinOffset ??= self.Offset(fin);
            if (p.HasAck && p.Ack is { } ack)
            {
                if (!peer.IsnKnown)
                {
                    strays.Add(p); // an acknowledgement of a SYN-ACK this capture never saw
                    continue;
                }
                var offset = peer.Offset(ack);
                if (WireSide.Ahead(offset, peer.AckedByPeer))
                    peer.AckedByPeer = offset;
                if (fromClient && !p.Syn && offset >= 1)
                    c.HandshakeCompleted = true;
                if (peer.FinOffset is { } peerFin && WireSide.Ahead(offset, peerFin))
                    peer.FinAckedUs ??= p.TimeUs;
            }
        }
        return (connections, strays);
    }

    /// <summary>
    /// The captures of both ends as one account: a packet lost between them (veth can drop
    /// at the receiver's backlog) is still seen at the sender, and each side's RST is
    /// timed where it was sent.
    /// </summary>
    public static List<WireConnection> Merge(IEnumerable<IEnumerable<WireConnection>> captures)
    {
        var merged = new Dictionary<(uint, uint?), WireConnection>();
        var order = new List<WireConnection>();
        foreach (var capture in captures)
        {
            foreach (var c in capture)
            {
                if (!merged.TryGetValue(c.Key, out var into))
                {
                    merged[c.Key] = c;
                    order.Add(c);
                    continue;
                }
                into.SynUs = Math.Min(into.SynUs, c.SynUs);
                into.HandshakeCompleted |= c.HandshakeCompleted;
                into.Client.MergeFrom(c.Client);
                into.Server.MergeFrom(c.Server);
                into.SeenBy.UnionWith(c.SeenBy);
            }
        }
        return [.. order.OrderBy(c => c.SynUs)];
    }
}
