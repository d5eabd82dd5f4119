using System.Buffers;
using FlowMesh.Contracts.Capture;

namespace FlowMesh.Node.Kernel;

/// <summary>
/// Decoded records from one CPU's ring, in kernel order. The array is pooled: whoever
/// ends up holding the batch calls <see cref="Release"/> once, after the last read.
/// </summary>
public readonly struct RecordBatch
{
    private readonly TcpEventRecord[] _records;

    internal RecordBatch(int cpu, TcpEventRecord[] records, int count)
    {
        Cpu = cpu;
        _records = records;
        Count = count;
    }

    public int Cpu { get; }
    public int Count { get; }
    public ReadOnlySpan<TcpEventRecord> Records => _records.AsSpan(0, Count);

    internal static TcpEventRecord[] Rent(int capacity) => ArrayPool<TcpEventRecord>.Shared.Rent(capacity);

    public void Release() => ArrayPool<TcpEventRecord>.Shared.Return(_records);
}

/// <summary>Where ring readers deliver batches. Called on the reader's own thread; may block to push back.</summary>
public interface IRecordBatchSink
{
    void Deliver(RecordBatch batch);

    /// <summary>
    /// Every record of <paramref name="cpu"/>'s ring stamped before <paramref name="passStartNs"/>
    /// (kernel monotonic time) has been delivered: the reader found the ring empty after a
    /// pass that began then. Sinks that order events across CPUs use it (see <see cref="OrderingHorizon"/>).
    /// </summary>
    void Drained(int cpu, long passStartNs)
    {
    }
}
