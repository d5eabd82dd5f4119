using System.Collections.Concurrent;

namespace FlowMesh.Cluster;

/// <summary>
/// Callers enqueue; one loop hands what is queued to <c>write</c> in batches of up to
/// 512, so a remote call (a Redis pipeline, an actor request) serves many items. An item
/// that finds the queue full is reported through <c>lost</c>; <c>write</c> reports its
/// own failures. <see cref="FlushAsync"/> waits for the batch being written too, not
/// only for the queue to empty.
///
/// A lock-free queue with a wake-up signal, not a bounded channel: the channel takes a
/// lock for every item on both ends, and measured with <c>bench node</c> the Aggregator's
/// session writers spent a large share of their time waiting on it while the loop drained.
/// </summary>
public sealed class BatchQueue<T> : IAsyncDisposable
{
    public const int MaxBatch = 512;
    private const int Capacity = 200_000;
    private static readonly TimeSpan Coalesce = TimeSpan.FromMilliseconds(2);

    private readonly Func<List<T>, Task> _write;
    private readonly Action<int> _lost;
    private readonly ConcurrentQueue<T> _queue = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _unwritten; // enqueued and not yet through write
    private int _queued; // in _queue, for the capacity check
    private int _signalled;

    public BatchQueue(Func<List<T>, Task> write, Action<int> lost)
    {
        _write = write;
        _lost = lost;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Items waiting to be written.</summary>
    public int Queued => Volatile.Read(ref _queued);

    public void Enqueue(T item)
    {
        if (Interlocked.Increment(ref _queued) > Capacity || _stop.IsCancellationRequested)
        {
            Interlocked.Decrement(ref _queued);
            _lost(1);
            return;
        }
        Interlocked.Increment(ref _unwritten);
        _queue.Enqueue(item);
        // One wake-up per idle period, not one per item.
        if (Interlocked.Exchange(ref _signalled, 1) == 0)
            _signal.Release();
    }

    private async Task RunAsync()
    {
        var batch = new List<T>(MaxBatch);
        while (true)
        {
            try
            {
                await _signal.WaitAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping: write what is left, then end.
            }
            // Items come in bursts (a flow shard hands over a round's closed flows at once): a
            // moment's wait lets the burst land, so one remote call serves it instead of the
            // first item alone. Not while stopping, and not when a full batch is waiting anyway.
            if (!_stop.IsCancellationRequested && Volatile.Read(ref _queued) < MaxBatch)
            {
                try
                {
                    await Task.Delay(Coalesce, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // stopping: write what is there
                }
            }
            // A full fence (not a volatile write): the emptiness check below must not be read
            // before this store is seen, or an Enqueue in between would neither signal nor be drained.
            Interlocked.Exchange(ref _signalled, 0);
            while (!_queue.IsEmpty)
            {
                while (batch.Count < MaxBatch && _queue.TryDequeue(out var item))
                    batch.Add(item);
                Interlocked.Add(ref _queued, -batch.Count);
                try
                {
                    await _write(batch).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // write reports its own failures; one it did not expect still must not end the loop (every later item would be lost uncounted).
                    _lost(batch.Count);
                }
                Interlocked.Add(ref _unwritten, -batch.Count);
                batch.Clear();
            }
            if (_stop.IsCancellationRequested)
                return;
        }
    }

    /// <summary>Waits (at most <paramref name="limit"/>) until everything enqueued so far has been through <c>write</c>.</summary>
    public async Task FlushAsync(TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (Interlocked.Read(ref _unwritten) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(5).ConfigureAwait(false);
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        // An item that raced with the stop is counted, not left behind unwritten.
        var left = 0;
        while (_queue.TryDequeue(out _))
            left++;
        if (left > 0)
            _lost(left);
        _stop.Dispose();
        _signal.Dispose();
    }
}
