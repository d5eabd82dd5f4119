using Proto;

namespace FlowMesh.Cluster.Placement;

/// <summary>
/// Sends one message to every shard of a table each period (flow shards sweep their flows,
/// session shards their deadlines): one timer per member, not one per flow or session.
/// </summary>
public sealed class ShardTicker(IRootContext root, IReadOnlyList<PID> shards, object tick, TimeSpan period) : IAsyncDisposable
{
    private readonly PeriodicLoop _loop = new(period, () =>
    {
        foreach (var shard in shards)
            root.Send(shard, tick);
    });

    public ValueTask DisposeAsync() => _loop.DisposeAsync();
}
