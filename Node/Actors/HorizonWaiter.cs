using Proto;

namespace FlowMesh.Node.Actors;

/// <summary>An actor that waits for the ordering horizon (a flow shard): on the dispatcher's list at most once.</summary>
internal sealed class HorizonWaiter
{
    // 1 while it is on the dispatcher's list.
    private int _awaiting;

    public PID Pid { get; set; } = null!;

    public bool TryMarkAwaiting() => Interlocked.CompareExchange(ref _awaiting, 1, 0) == 0;

    public void ClearAwaiting() => Volatile.Write(ref _awaiting, 0);
}
