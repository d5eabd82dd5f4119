using System.Diagnostics;
using FlowMesh.Node.Kernel;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Node.Hosting;

/// <summary>
/// The Node's periodic passes over the kernel's sockets: listeners for queue overflows every
/// <c>Node:ListenerSeconds</c>, and open sockets' figures (health for long-lived flows' reports)
/// every <c>Flows:SessionReportSeconds</c>, and the namespace's own TCP counters at each tick.
/// One loop, so the two iterators never run at once.
/// </summary>
internal sealed class KernelSweeper(
    KernelCapture kernel, ListenerDropReporter? listeners, HostTcpCounters host, TimeSpan tick, TimeSpan reportEvery, ILogger logger) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _lastReport;
    private Task? _loop;

    /// <summary>
    /// The first look at the listeners now, before the Node says it runs: a listener that
    /// appears after it is new, so every drop it makes counts (see <see cref="ListenerDropReporter"/>).
    /// </summary>
    public async Task StartAsync()
    {
        await PassAsync(report: false).ConfigureAwait(false);
        _loop = Task.Run(RunAsync);
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(tick);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                await PassAsync(report: _clock.Elapsed - _lastReport >= reportEvery).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task PassAsync(bool report)
    {
        try
        {
            host.Read();
            if (listeners is not null)
                await listeners.LookAsync().ConfigureAwait(false);
            if (report)
            {
                _lastReport = _clock.Elapsed;
                kernel.ReportOpenSockets();
            }
        }
        catch (CaptureStartException e)
        {
            // An iterator failed this once (e.g. out of memory): the next tick tries again.
            logger.LogWarning("a pass over the kernel's sockets failed: {Reason}", e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
