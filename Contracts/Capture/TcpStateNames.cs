namespace FlowMesh.Contracts.Capture;

public static class TcpStateNames
{
    private static readonly string[] KernelNames =
    [
        "TCP_UNKNOWN", "TCP_ESTABLISHED", "TCP_SYN_SENT", "TCP_SYN_RECV", "TCP_FIN_WAIT1", "TCP_FIN_WAIT2",
        "TCP_TIME_WAIT", "TCP_CLOSE", "TCP_CLOSE_WAIT", "TCP_LAST_ACK", "TCP_LISTEN", "TCP_CLOSING",
        "TCP_NEW_SYN_RECV", "TCP_BOUND_INACTIVE",
    ];

    /// <summary>The name the kernel uses, e.g. <c>TCP_SYN_SENT</c>.</summary>
    public static string KernelName(this TcpState state) =>
        (uint)state < (uint)KernelNames.Length ? KernelNames[(int)state] : "TCP_UNKNOWN";

    /// <summary>The kernel name without its <c>TCP_</c> prefix, e.g. <c>SYN_SENT</c>, for tables.</summary>
    public static string ShortName(this TcpState state) => state.KernelName()[4..];

    public static bool TryParseKernelName(string name, out TcpState state)
    {
        for (var i = 1; i < KernelNames.Length; i++)
        {
            if (string.Equals(KernelNames[i], name, StringComparison.OrdinalIgnoreCase))
            {
                state = (TcpState)i;
                return true;
            }
        }
        state = TcpState.Unknown;
        return false;
    }

    internal const TcpState Highest = TcpState.BoundInactive;
}
