using System.Diagnostics;
using System.Threading.Channels;
using OpenTelemetry;

namespace FlowMesh.Aggregator.Export;

/// <summary>
/// Queues ended spans and exports them in batches, counting every span lost: dropped
/// because the queue was full, or in a batch the exporter failed. Written here instead of
/// the SDK's <c>BatchActivityExportProcessor</c> because that one keeps its drop count
/// internal and reports failed exports only to its EventSource.
/// </summary>
internal sealed class CountingBatchProcessor : BaseProcessor<Activity>
{
    private const int MaxQueue = 8192;
    private const int MaxBatch = 512;
    private static readonly TimeSpan Gather = TimeSpan.FromMilliseconds(500);

    private readonly BaseExporter<Activity> _exporter;
    private readonly Channel<Activity> _queue = Channel.CreateBounded<Activity>(new BoundedChannelOptions(MaxQueue) { SingleReader = true });
    private readonly Task _loop;
    private long _dropped;

    public CountingBatchProcessor(BaseExporter<Activity> exporter)
    {
        _exporter = exporter;
        _loop = Task.Run(ExportLoopAsync);
    }

    /// <summary>Spans lost: the queue was full, or their batch failed to export.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public override void OnEnd(Activity data)
    {
        if (!_queue.Writer.TryWrite(data))
            Interlocked.Increment(ref _dropped);
    }

    private async Task ExportLoopAsync()
    {
        var batch = new Activity[MaxBatch];
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // Wait a little for more, so a busy Aggregator sends few large requests.
            if (_queue.Reader.Count < MaxBatch)
                await Task.WhenAny(Task.Delay(Gather), _queue.Reader.Completion).ConfigureAwait(false);
            var count = 0;
            while (count < MaxBatch && _queue.Reader.TryRead(out var span))
                batch[count++] = span;
            if (count == 0)
                continue;
            ExportResult result;
            try
            {
                result = _exporter.Export(new Batch<Activity>(batch, count));
            }
            catch (Exception)
            {
                result = ExportResult.Failure;
            }
            if (result != ExportResult.Success)
                Interlocked.Add(ref _dropped, count);
            Array.Clear(batch, 0, count);
        }
    }

    protected override bool OnShutdown(int timeoutMilliseconds)
    {
        _queue.Writer.TryComplete();
        var drained = _loop.Wait(timeoutMilliseconds);
        // What was still queued when time ran out is lost too.
        Interlocked.Add(ref _dropped, _queue.Reader.Count);
        return _exporter.Shutdown(timeoutMilliseconds) && drained;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _exporter.Dispose();
        base.Dispose(disposing);
    }
}
