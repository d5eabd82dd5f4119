using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Node.Actors;

/// <summary>
/// Events of one capture batch for the sockets one shard owns, in that CPU's ring order.
/// Local only (never crosses a process), so a plain object rather than a protobuf message.
/// </summary>
internal sealed class ShardRecords(TcpEventRecord[] records, int count)
{
    public TcpEventRecord[] Records { get; } = records;
    public int Count { get; } = count;
}

/// <summary>Asks a shard for one of its flows; answered with a <see cref="FlowQueryResponse"/> (found only if the shard holds it).</summary>
internal sealed class ShardQuery(ulong cookie)
{
    public ulong Cookie { get; } = cookie;
}

/// <summary>Asks a shard for the views of its open flows that match; answered with a <see cref="ShardListResponse"/>.</summary>
internal sealed class ShardList(FlowFilter filter, int limit)
{
    public FlowFilter Filter { get; } = filter;
    public int Limit { get; } = limit;
}

internal sealed class ShardListResponse(List<FlowView> flows, bool truncated)
{
    public List<FlowView> Flows { get; } = flows;
    public bool Truncated { get; } = truncated;
}

/// <summary>Once a second: report long-lived flows to their sessions, passivate idle ones, forget closed ones after their linger.</summary>
internal sealed class SweepShard
{
    public static readonly SweepShard Instance = new();
}
