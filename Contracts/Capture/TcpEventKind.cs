namespace FlowMesh.Contracts.Capture;

/// <summary>What a kernel record reports (enum fm_event_kind in bpf/capture.h).</summary>
public enum TcpEventKind : byte
{
    State = 1,
    Retransmit = 2,
    ResetSent = 3,
    ResetReceived = 4,
    Existing = 5,

    /// <summary>The SYN-ACK brought this end's trace tag back (reported just after the move to ESTABLISHED).</summary>
    TagEchoed = 6,
    /// <summary>accept() returned this socket to the task: the end of its accept-queue wait, and the process that serves it.</summary>
    Accepted = 7,
    /// <summary>A known open socket's figures, read every Flows:SessionReportSeconds for long-lived flows (only sockets that moved).</summary>
    Report = 8,
}
