namespace FlowMesh.Cluster;

/// <summary>
/// Calls <c>tick</c> every period on a task of its own until disposed, and once more as it
/// stops when <c>tickAtStop</c> is set (what was gathered since the last tick still goes
/// out). Disposing twice is harmless: a hosted service's stop and its container both do.
/// </summary>
public sealed class PeriodicLoop : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _disposed;

    public PeriodicLoop(TimeSpan period, Action tick, bool tickAtStop = false) =>
        _loop = Task.Run(() => RunAsync(period, tick, tickAtStop));

    private async Task RunAsync(TimeSpan period, Action tick, bool tickAtStop)
    {
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                tick();
        }
        catch (OperationCanceledException)
        {
            if (tickAtStop)
                tick();
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
