using FlowMesh.Node.Kernel;

namespace FlowMesh.Bench;

/// <summary>A sink that only counts: what the benchmarks measure is the kernel and the readers, not a consumer.</summary>
internal sealed class CountingSink : IRecordBatchSink
{
    private long _records;

    public long Records => Interlocked.Read(ref _records);

    public void Deliver(RecordBatch batch)
    {
        Interlocked.Add(ref _records, batch.Count);
        batch.Release();
    }
}
