using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Flows;
using FlowMesh.Node.Kernel;
using Proto;

namespace FlowMesh.Node.Actors;

/// <summary>A batch from one CPU's ring, handed from its reader thread to that CPU's capture actor.</summary>
internal sealed class CaptureBatch(RecordBatch batch)
{
    public RecordBatch Batch { get; } = batch;
}

/// <summary>
/// One per CPU ring buffer. Reading happens on the reader's own thread; this actor
/// splits each batch by the shard that owns each socket and sends every shard its
/// records as one message, in this ring's order. Events of listening sockets and
/// resets sent with no socket are not connections: they are counted, not routed.
/// </summary>
internal sealed class CaptureActor(FlowShards shards, NodeCounters counters, CaptureBacklog backlog, OrderingHorizon horizon) : IActor
{
    private readonly TcpEventRecord[]?[] _buffers = new TcpEventRecord[shards.Count][];
    private readonly int[] _counts = new int[shards.Count];

    public Task ReceiveAsync(IContext context)
    {
        if (context.Message is CaptureBatch message)
        {
            try
            {
                Route(context, message.Batch);
            }
            finally
            {
                message.Batch.Release();
                backlog.Done();
                // Its records are in their shards' mailboxes now: the CPU's time may advance.
                horizon.BatchRouted(message.Batch.Cpu);
            }
        }
        return Task.CompletedTask;
    }

    private void Route(IContext context, RecordBatch batch)
    {
        foreach (ref readonly var r in batch.Records)
        {
            if (r.Has(TcpEventFlags.NoSocket))
            {
                counters.SocketlessReset();
                continue;
            }
            if (TcpTransitions.IsListenerEvent(r))
            {
                counters.ListenerEvent();
                continue;
            }
            var shard = shards.IndexOf(r.SocketCookie);
            var buffer = _buffers[shard] ??= ShardRecordsPool.Rent(batch.Count);
            buffer[_counts[shard]++] = r;
        }
        for (var shard = 0; shard < _buffers.Length; shard++)
        {
            if (_counts[shard] == 0)
                continue;
            // The shard returns the array to the pool once it has copied the records out.
            context.Send(shards.All[shard], new ShardRecords(_buffers[shard]!, _counts[shard]));
            _buffers[shard] = null;
            _counts[shard] = 0;
        }
    }
}

/// <summary>
/// Bounds the batches waiting for the capture actors: when they fall behind, the reader
/// threads wait here, the rings fill and the kernel counts drops. It does not bound what
/// the flow shards hold behind them (their mailboxes and held events): that bound is still
/// to come (the bounds work), so a shard that falls far behind grows instead.
/// </summary>
internal sealed class CaptureBacklog(int limit)
{
    private int _waiting;

    public int Waiting => Volatile.Read(ref _waiting);

    public void Enter()
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref _waiting) >= limit)
            spin.SpinOnce(sleep1Threshold: 10);
        Interlocked.Increment(ref _waiting);
    }

    public void Done() => Interlocked.Decrement(ref _waiting);
}

/// <summary>Delivers each reader's batches to its CPU's capture actor, and tells the horizon how far each CPU is read.</summary>
internal sealed class CaptureActorSink(IRootContext root, IReadOnlyList<PID> captureActors, CaptureBacklog backlog, OrderingHorizon horizon) : IRecordBatchSink
{
    public void Deliver(RecordBatch batch)
    {
        backlog.Enter();
        horizon.BatchHandedOver(batch.Cpu);
        root.Send(captureActors[batch.Cpu % captureActors.Count], new CaptureBatch(batch));
    }

    public void Drained(int cpu, long passStartNs) => horizon.Drained(cpu, passStartNs);
}
