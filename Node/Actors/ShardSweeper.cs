using Proto;

namespace FlowMesh.Node.Actors;

/// <summary>Once a second, tells every flow shard to look after its flows over time (<see cref="SweepShard"/>): one timer per Node, not one per flow.</summary>
internal sealed class ShardSweeper(FlowShards shards, IRootContext root) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public void Start() => _loop = Task.Run(RunAsync);

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                foreach (var shard in shards.All)
                    root.Send(shard, SweepShard.Instance);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
