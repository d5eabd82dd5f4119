using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Node.Flows;

/// <summary>A reset's phase (from the state it hit) and its cause (from the kernel's reason, or the state a received one hit).</summary>
internal static class TcpResetCauses
{
    public const string Handshake = "handshake";
    public const string Transfer = "transfer";
    public const string Closing = "close";

    public static string Phase(TcpState state) => state switch
    {
        TcpState.SynSent or TcpState.SynRecv or TcpState.NewSynRecv or TcpState.Listen => Handshake,
        TcpState.Established => Transfer,
        TcpState.Unknown => "",
        _ => Closing,
    };

    /// <summary>A state in the phase, so a restored flow reports the same phase and cause.</summary>
    public static TcpState StateOfPhase(string phase, FlowRole role) => phase switch
    {
        Handshake => role == FlowRole.Server ? TcpState.SynRecv : TcpState.SynSent,
        Transfer => TcpState.Established,
        Closing => TcpState.FinWait1,
        _ => TcpState.Unknown,
    };

    /// <summary>Why this end sent a reset, from the kernel's enum sk_rst_reason name.</summary>
    public static string OfSent(string reason) => reason switch
    {
        "NO_SOCKET" => "no-listener",
        // tcp_disconnect() sends TCP_STATE: a close with SO_LINGER 0, or connect(AF_UNSPEC).
        "TCP_ABORT_ON_CLOSE" or "TCP_ABORT_ON_LINGER" or "TCP_ABORT_ON_DATA" or "TCP_DISCONNECT_WITH_DATA" or "TCP_STATE" => "abortive-close",
        "TCP_ABORT_ON_MEMORY" => "out-of-memory",
        "TCP_KEEPALIVE_TIMEOUT" => "timeout",
        "NOT_SPECIFIED" or "" => "unspecified",
        _ => "protocol", // a segment that did not fit the connection: bad ACK, PAWS, flags, state
    };

    /// <summary>Why the peer reset: a reset answering a SYN means nobody listened; later ones the peer does not explain.</summary>
    public static string OfReceived(TcpState state) => state == TcpState.SynSent ? "refused" : "peer";
}
