namespace FlowMesh.Contracts.Capture;

/// <summary>Which optional parts of a record hold data (enum fm_event_flags in bpf/capture.h).</summary>
[Flags]
public enum TcpEventFlags : ushort
{
    None = 0,
    /// <summary>Process fields name the task that made the transition (it ran in a syscall).</summary>
    Task = 1 << 0,
    /// <summary>Process fields name the socket's owner, remembered from an earlier event.</summary>
    Owner = 1 << 1,
    /// <summary>The connection was already open, or listening, when capture started.</summary>
    MidLife = 1 << 2,
    /// <summary>Both initial sequence numbers are known.</summary>
    Isn = 1 << 3,
    /// <summary>Byte, segment, RTT and retransmission counters are filled.</summary>
    Stats = 1 << 4,
    /// <summary>A RST sent for a segment no socket wanted (for example a connect to a closed port).</summary>
    NoSocket = 1 << 5,
    /// <summary>The peer's FIN has been received.</summary>
    FinReceived = 1 << 6,
    /// <summary>This end's FIN has been sent and acknowledged.</summary>
    FinAcked = 1 << 7,
    /// <summary>This end wrote the trace tag into its SYN.</summary>
    TagSent = 1 << 8,
    /// <summary>The peer's SYN-ACK brought the tag back: the peer is instrumented.</summary>
    TagEchoed = 1 << 9,
    /// <summary>The peer's SYN carried a trace tag to this end (which echoed it).</summary>
    TagReceived = 1 << 10,
    /// <summary>Goid is the Go goroutine the task was running.</summary>
    Goid = 1 << 11,
}
