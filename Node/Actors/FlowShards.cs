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

/// <summary>An actor that waits for the ordering horizon (a flow shard): on the dispatcher's list at most once.</summary>
internal sealed class HorizonWaiter
{
    // 1 while it is on the dispatcher's list.
    private int _awaiting;

    public PID Pid { get; set; } = null!;

    public bool TryMarkAwaiting() => Interlocked.CompareExchange(ref _awaiting, 1, 0) == 0;

    public void ClearAwaiting() => Volatile.Write(ref _awaiting, 0);
}
