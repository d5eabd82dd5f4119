using Proto;

namespace FlowMesh.Cluster.Placement;

/// <summary>
/// Sends one message to every shard of a table each period (flow shards sweep their flows,
/// session shards their deadlines): one timer per member, not one per flow or session.
/// </summary>
public sealed class ShardTicker : IAsyncDisposable
{
    private readonly IRootContext _root;
    private readonly IReadOnlyList<PID> _shards;
    private readonly object _tick;
    private readonly TimeSpan _period;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _disposed;

    public ShardTicker(IRootContext root, IReadOnlyList<PID> shards, object tick, TimeSpan period)
    {
        (_root, _shards, _tick, _period) = (root, shards, tick, period);
        _loop = Task.Run(RunAsync);
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(_period);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                foreach (var shard in _shards)
                    _root.Send(shard, _tick);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
