using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Node.Runtime.Dotnet;

/// <summary>
/// Watches one .NET process through its diagnostics socket (EventPipe): its runtime
/// suspensions (GC pauses) and thread-pool queue, so that a connection of that process can
/// tell whether, and for how long, its threads were stopped.
///
/// Attaching never throws for the process's sake: a process that is not .NET, has
/// diagnostics disabled, refuses or vanishes gives a watcher in a final
/// <see cref="Status"/> with a one-line <see cref="Detail"/> (logged once), which answers
/// every query with nothing. One thread per watcher reads the stream (TraceEvent's parser
/// blocks on the socket); queries are safe from any thread.
/// </summary>
public sealed partial class DotnetRuntimeWatcher : IAsyncDisposable
{
    private const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";
    private const string CountersProvider = "System.Runtime";

    private readonly DotnetWatcherSettings _settings;
    private readonly ILogger _logger;
    private readonly GcPauseRing _pauses;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private DiagnosticsClientConnector? _connector;
    private EventPipeSession? _session;
    private Thread? _reader;
    private int _status;
    private string _detail;
    private long _sessionsFailed;
    private int _disposed;

    private DotnetRuntimeWatcher(DotnetProbeResult probe, DotnetWatcherSettings settings, ILogger logger)
    {
        Probe = probe;
        _settings = settings;
        _logger = logger;
        _pauses = new GcPauseRing(settings.PauseCapacity);
        _detail = probe.Detail;
    }

    /// <summary>What the probe found when attaching: pid, namespace pid, socket, time namespace offset.</summary>
    public DotnetProbeResult Probe { get; }

    public int Pid => Probe.Pid;

    public DotnetWatcherStatus Status => (DotnetWatcherStatus)Volatile.Read(ref _status);

    /// <summary>One line: where the watcher reads from, or why it does not (any more).</summary>
    public string Detail => Volatile.Read(ref _detail);

    /// <summary>Done when the watcher reads no more: the stream ended, failed, or the watcher was disposed.</summary>
    public Task Completion => _completion.Task;

    public DotnetWatcherCounters Counters => new(
        _pauses.Added, _pauses.Shed, Interlocked.Read(ref _sessionsFailed), Interlocked.Read(ref _eventsLost), Interlocked.Read(ref _unpaired));

    /// <summary>Attaches to <paramref name="pid"/> (as the Node sees it; containers included).</summary>
    public static async Task<DotnetRuntimeWatcher> AttachAsync(int pid, DotnetWatcherSettings settings, ILogger logger, CancellationToken cancellationToken = default)
    {
        var probe = DotnetProcessProbe.Probe(pid);
        var watcher = new DotnetRuntimeWatcher(probe, settings, logger);
        switch (probe.Status)
        {
            case DotnetProbeStatus.Attachable:
                await watcher.StartAsync(probe.SocketPath!, cancellationToken).ConfigureAwait(false);
                break;
            case DotnetProbeStatus.NotDotnet:
                watcher.Finish(DotnetWatcherStatus.NotDotnet, probe.Detail);
                break;
            case DotnetProbeStatus.Gone:
                watcher.Finish(DotnetWatcherStatus.Unavailable, probe.Detail);
                break;
            default:
                watcher.Finish(DotnetWatcherStatus.Unavailable, probe.Detail);
                logger.LogWarning("Not watching the .NET runtime of pid {Pid}: {Detail}", pid, probe.Detail);
                break;
        }
        if (watcher._reader is null)
            watcher._completion.TrySetResult(); // nothing was started: nothing to wait for
        return watcher;
    }

    private async Task StartAsync(string socketPath, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_settings.AttachTimeout);
        try
        {
            // An explicit socket, not new DiagnosticsClient(pid): the path found through
            // /proc/pid/root is the one the probe checked, container or not.
            _connector = await DiagnosticsClientConnector.FromDiagnosticPort(socketPath + ",connect", timeout.Token).ConfigureAwait(false);
            var providers = new[]
            {
                new EventPipeProvider(RuntimeProvider, EventLevel.Informational, (long)ClrTraceEventParser.Keywords.GC),
                new EventPipeProvider(CountersProvider, EventLevel.Informational, 0,
                    new Dictionary<string, string> { ["EventCounterIntervalSec"] = _settings.CounterIntervalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) }),
            };
            // No rundown (a burst of method events in the target at stop, for symbols we do not
            // use) and no stacks (a stack walk in the target per event).
            var configuration = new EventPipeSessionConfiguration(providers, _settings.BufferMegabytes, requestRundown: false, requestStackwalk: false);
            _session = await _connector.Instance.StartEventPipeSessionAsync(configuration, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _sessionsFailed);
            var why = e is OperationCanceledException ? $"no answer within {_settings.AttachTimeout.TotalSeconds:0.#} s" : $"{e.GetType().Name}: {e.Message}";
            Finish(DotnetWatcherStatus.Failed, $"EventPipe session on {socketPath} did not start ({why})");
            _logger.LogWarning("Not watching the .NET runtime of pid {Pid}: {Detail}", Pid, Detail);
            await ReleaseAsync().ConfigureAwait(false);
            return;
        }

        _detail = $"watching through {socketPath}";
        _reader = new Thread(Read) { IsBackground = true, Name = $"fm-dotnet-{Pid}" };
        _reader.Start();
    }

    /// <summary>Stops the session in the target (it would run until the process exits otherwise) and waits for the reader.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await _completion.Task.ConfigureAwait(false);
            return;
        }
        if (_session is { } session && !_completion.Task.IsCompleted)
        {
            using var timeout = new CancellationTokenSource(_settings.StopTimeout);
            try
            {
                await session.StopAsync(timeout.Token).ConfigureAwait(false);
                // The runtime flushes and ends the stream after the stop: let the reader drain it.
                await _completion.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ServerNotAvailableException or OperationCanceledException or TimeoutException or IOException or ServerErrorException)
            {
                // The process is gone or does not answer: cutting the stream below ends the session too.
                _logger.LogDebug("Stopping the EventPipe session of pid {Pid}: {Reason}", Pid, e.Message);
            }
        }
        Finish(DotnetWatcherStatus.Stopped, "stopped");
        await ReleaseAsync().ConfigureAwait(false);
        await _completion.Task.ConfigureAwait(false);
    }

    private async ValueTask ReleaseAsync()
    {
        // Closing the stream unblocks a reader still in Process(); then the source can go.
        _session?.Dispose();
        if (_connector is { } connector)
            await connector.DisposeAsync().ConfigureAwait(false);
        if (_reader is null)
            _completion.TrySetResult();
    }

    /// <summary>Moves to a final state once; the first final state wins.</summary>
    private bool Finish(DotnetWatcherStatus status, string detail)
    {
        if (Interlocked.CompareExchange(ref _status, (int)status, (int)DotnetWatcherStatus.Watching) != (int)DotnetWatcherStatus.Watching)
            return false;
        Volatile.Write(ref _detail, detail);
        return true;
    }
}
