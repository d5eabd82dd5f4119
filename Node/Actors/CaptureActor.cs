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
/// splits each batch by socket and sends every flow actor its events as one message,
/// in kernel order. Events of listening sockets and resets sent with no socket are
/// not connections: they are counted, not routed.
/// </summary>
internal sealed class CaptureActor(FlowRegistry flows, NodeCounters counters, CaptureBacklog backlog, OrderingHorizon horizon) : IActor
{
    private readonly Dictionary<ulong, int> _slotOfCookie = [];
    private Slot[] _slots = new Slot[64];
    private int _slotCount;

    private struct Slot
    {
        public ulong Cookie;
        public int Count;
        public TcpEventRecord[] Buffer;
    }

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
                // Its records are in their flows' mailboxes now: the CPU's time may advance.
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
            ref var slot = ref SlotOf(r.SocketCookie);
            if (slot.Count == slot.Buffer.Length)
                Array.Resize(ref slot.Buffer, slot.Buffer.Length * 2);
            slot.Buffer[slot.Count++] = r;
        }

        for (var i = 0; i < _slotCount; i++)
        {
            ref var slot = ref _slots[i];
            var message = new FlowRecords(slot.Cookie, slot.Buffer.AsSpan(0, slot.Count).ToArray());
            context.Send(flows.ActivateOwn(slot.Cookie), message);
            slot.Count = 0;
        }
        _slotCount = 0;
        _slotOfCookie.Clear();
    }

    private ref Slot SlotOf(ulong cookie)
    {
        if (_slotOfCookie.TryGetValue(cookie, out var index))
            return ref _slots[index];
        if (_slotCount == _slots.Length)
            Array.Resize(ref _slots, _slots.Length * 2);
        index = _slotCount++;
        _slotOfCookie[cookie] = index;
        ref var slot = ref _slots[index];
        slot.Cookie = cookie;
        slot.Count = 0;
        slot.Buffer ??= new TcpEventRecord[8];
        return ref slot;
    }
}

/// <summary>
/// Bounds the batches waiting for the capture actors. When actors fall behind, the
/// reader threads wait here, the rings fill and the kernel counts drops, so memory
/// never grows without end and nothing is lost without being counted.
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
