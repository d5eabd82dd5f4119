using FlowMesh.Cluster.Placement;
using FlowMesh.Contracts.Capture;

namespace FlowMesh.Node.Actors;

/// <summary>
/// Events of one socket from one capture batch, in kernel order. Local only (never
/// crosses a process), so it is a plain object rather than a protobuf message.
/// </summary>
internal sealed class FlowRecords(ulong cookie, TcpEventRecord[] records) : IRedeliverable
{
    public ulong Cookie { get; } = cookie;
    public TcpEventRecord[] Records { get; } = records;

    /// <summary>Times this message was sent again after finding its actor stopped.</summary>
    public int Redeliveries { get; set; }
}
