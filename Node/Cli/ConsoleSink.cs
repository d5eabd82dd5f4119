using System.Threading.Channels;
using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.Cli;

/// <summary>
/// Hands batches from the ring reader threads to one printing task. Bounded: when the
/// terminal or pipe cannot keep up, readers block, rings fill and the kernel counts
/// drops, which the summary reports, rather than memory growing without end.
/// </summary>
internal sealed class ConsoleSink : IRecordBatchSink
{
    private readonly Channel<RecordBatch> _channel = Channel.CreateBounded<RecordBatch>(
        new BoundedChannelOptions(1024) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    public void Deliver(RecordBatch batch)
    {
        while (!_channel.Writer.TryWrite(batch))
        {
            if (!_channel.Writer.WaitToWriteAsync().AsTask().GetAwaiter().GetResult())
            {
                batch.Release();
                return;
            }
        }
    }

    public void Complete() => _channel.Writer.TryComplete();

    /// <summary>Prints every batch until <see cref="Complete"/> is called and the channel is empty.</summary>
    public async Task PrintAsync(EventFormatter formatter)
    {
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var batch))
            {
                try
                {
                    foreach (ref readonly var record in batch.Records)
                        formatter.Write(in record, batch.Cpu);
                }
                finally
                {
                    batch.Release();
                }
            }
            formatter.Flush();
        }
    }
}
