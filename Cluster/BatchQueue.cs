using System.Threading.Channels;

namespace FlowMesh.Cluster;

/// <summary>
/// Callers enqueue; one loop hands what is queued to <c>write</c> in batches of up to
/// 512, so a remote call (a Redis script, an actor request) serves many items. An item
/// that finds the queue full is reported through <c>lost</c>; <c>write</c> reports its
/// own failures. <see cref="FlushAsync"/> waits for the batch being written too, not
/// only for the queue to empty.
/// </summary>
public sealed class BatchQueue<T> : IAsyncDisposable
{
    public const int MaxBatch = 512;
    private const int Capacity = 200_000;

    private readonly Func<List<T>, Task> _write;
    private readonly Action<int> _lost;
    private readonly Channel<T> _queue = Channel.CreateBounded<T>(new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Task _loop;
    private long _unwritten; // enqueued and not yet through write

    public BatchQueue(Func<List<T>, Task> write, Action<int> lost)
    {
        _write = write;
        _lost = lost;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Items waiting to be written.</summary>
    public int Queued => _queue.Reader.Count;

    public void Enqueue(T item)
    {
        Interlocked.Increment(ref _unwritten);
        if (_queue.Writer.TryWrite(item))
            return;
        Interlocked.Decrement(ref _unwritten);
        _lost(1);
    }

    private async Task RunAsync()
    {
        var batch = new List<T>(MaxBatch);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && reader.TryRead(out var item))
                batch.Add(item);
            await _write(batch).ConfigureAwait(false);
            Interlocked.Add(ref _unwritten, -batch.Count);
            batch.Clear();
        }
    }

    /// <summary>Waits (at most <paramref name="limit"/>) until everything enqueued so far has been through <c>write</c>.</summary>
    public async Task FlushAsync(TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (Interlocked.Read(ref _unwritten) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(5).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }
}
