using Microsoft.Extensions.Logging;

namespace FlowMesh.Node.Hosting;

/// <summary>
/// The Node's liveness signal for a probe that cannot ask it over the network (it has no
/// HTTP port): every second, once the Node's own actors have answered a status request and
/// while it is still a cluster member, the file's modification time is set to now. A Node
/// frozen, wedged or expelled stops touching it, and the probe
/// (<c>find FILE -mmin -0.5</c>) fails.
/// </summary>
internal sealed class AliveFile(string path, Func<CancellationToken, Task<bool>> answers, ILogger logger) : IAsyncDisposable
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(1);
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public void Start()
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
            Directory.CreateDirectory(directory);
        _loop = Task.Run(RunAsync);
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(Every);
        var failedBefore = false;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                if (!await answers(_stop.Token).ConfigureAwait(false))
                    continue;
                try
                {
                    File.WriteAllBytes(path, []);
                    failedBefore = false;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    if (!failedBefore)
                        logger.LogWarning("Cannot touch the liveness file {Path} ({Reason}): a probe that reads it will fail", path, e.Message);
                    failedBefore = true;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
        _stop.Dispose();
        // A stopped Node is not alive: the file goes with it.
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
