using System.Buffers;
using FlowMesh.Contracts.Capture;
using Proto;

namespace FlowMesh.Node.Actors;

/// <summary>This host's flow shards: which one owns a socket (by its cookie), and their PIDs.</summary>
internal sealed class FlowShards(IReadOnlyList<PID> shards)
{
    public int Count => shards.Count;

    public IReadOnlyList<PID> All => shards;

    public int IndexOf(ulong cookie) => (int)(cookie % (ulong)shards.Count);

    public PID Of(ulong cookie) => shards[IndexOf(cookie)];
}

/// <summary>The arrays capture actors fill for the shards; each shard returns one once it has copied the records out.</summary>
internal static class ShardRecordsPool
{
    public static TcpEventRecord[] Rent(int minimum) => ArrayPool<TcpEventRecord>.Shared.Rent(minimum);

    public static void Return(TcpEventRecord[] records) => ArrayPool<TcpEventRecord>.Shared.Return(records);
}
