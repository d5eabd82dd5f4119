using FlowMesh.Contracts.Capture;

namespace FlowMesh.Node.Flows;

/// <summary>
/// The state transitions Linux makes on a TCP socket (RFC 9293's machine as the
/// kernel implements it: TIME-WAIT lives in a separate mini-socket, so a full
/// socket reports FIN_WAIT2 or CLOSING -> CLOSE when it enters TIME-WAIT).
/// </summary>
internal static class TcpTransitions
{
    private static readonly bool[,] Allowed = Build();

    public static bool IsAllowed(TcpState from, TcpState to) =>
        (uint)from < 16 && (uint)to < 16 && Allowed[(int)from, (int)to];

    /// <summary>A transition that starts a connection's life on this socket.</summary>
    public static bool IsOpening(TcpState from, TcpState to) =>
        (from == TcpState.Close && to == TcpState.SynSent) || (from == TcpState.Listen && to == TcpState.SynRecv);

    /// <summary>Events of the listening socket itself (not a connection).</summary>
    public static bool IsListenerEvent(in TcpEventRecord r) =>
        (r.Kind == TcpEventKind.State && ((r.OldState == TcpState.Close && r.NewState == TcpState.Listen) || (r.OldState == TcpState.Listen && r.NewState == TcpState.Close)))
        || (r.Kind != TcpEventKind.State && r.NewState == TcpState.Listen);

    private static bool[,] Build()
    {
        var a = new bool[16, 16];
        void Allow(TcpState from, params TcpState[] to)
        {
            foreach (var t in to)
                a[(int)from, (int)t] = true;
        }
        Allow(TcpState.Close, TcpState.SynSent, TcpState.Listen);
        Allow(TcpState.Listen, TcpState.SynRecv, TcpState.Close);
        Allow(TcpState.SynSent, TcpState.Established, TcpState.SynRecv, TcpState.Close);
        Allow(TcpState.SynRecv, TcpState.Established, TcpState.FinWait1, TcpState.Close);
        Allow(TcpState.Established, TcpState.FinWait1, TcpState.CloseWait, TcpState.Close);
        Allow(TcpState.FinWait1, TcpState.FinWait2, TcpState.Closing, TcpState.Close);
        Allow(TcpState.FinWait2, TcpState.Close);
        Allow(TcpState.Closing, TcpState.Close);
        Allow(TcpState.CloseWait, TcpState.LastAck, TcpState.Close);
        Allow(TcpState.LastAck, TcpState.Close);
        return a;
    }
}
