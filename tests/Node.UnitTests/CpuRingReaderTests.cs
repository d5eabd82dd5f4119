using System.Net;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Kernel;
using FlowMesh.TestSupport.Records;

namespace FlowMesh.Node.UnitTests;

public sealed class CpuRingReaderTests
{
    private sealed class ListSink : IRecordBatchSink
    {
        public List<(int Cpu, ulong[] Cookies)> Batches { get; } = [];

        public void Deliver(RecordBatch batch)
        {
            var cookies = new ulong[batch.Count];
            for (var i = 0; i < batch.Count; i++)
                cookies[i] = batch.Records[i].SocketCookie;
            Batches.Add((batch.Cpu, cookies));
            batch.Release();
        }
    }

    private static byte[] Record(ulong cookie)
    {
        var bytes = new byte[TcpEventRecord.Size];
        TcpEventRecordBuilder.Transition(cookie, TcpState.Close, TcpState.SynSent)
            .WithEndpoints(new IPEndPoint(IPAddress.Loopback, 1), new IPEndPoint(IPAddress.Loopback, 2))
            .WriteTo(bytes);
        return bytes;
    }

    [Fact]
    public void Records_arrive_in_order_in_batches_of_the_configured_size()
    {
        using var sim = new SimulatedRing(1 << 16);
        for (ulong i = 1; i <= 10; i++)
            sim.Write(Record(i));
        var sink = new ListSink();
        using var reader = new CpuRingReader(3, sim.Ring, sink, pollMs: 1, batchSize: 4);

        Assert.Equal(10, reader.DrainAll());
        Assert.Equal(new[] { 4, 4, 2 }, sink.Batches.Select(b => b.Cookies.Length));
        Assert.All(sink.Batches, b => Assert.Equal(3, b.Cpu));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (ulong)i), sink.Batches.SelectMany(b => b.Cookies));
        Assert.Equal(10, reader.Stats.Records);
        Assert.Equal(0, reader.Stats.DecodeErrors);
    }

    [Fact]
    public void Malformed_records_are_counted_by_reason_and_the_rest_delivered()
    {
        using var sim = new SimulatedRing(1 << 16);
        sim.Write(Record(1));
        sim.Write(Record(2).AsSpan(0, 40));                 // truncated
        var badKind = Record(3);
        badKind[2] = 99;                                    // kind
        sim.Write(badKind);
        var badVersion = Record(4);
        badVersion[0] = 7;                                  // version
        sim.Write(badVersion);
        sim.Write(Record(5));
        var sink = new ListSink();
        using var reader = new CpuRingReader(0, sim.Ring, sink, pollMs: 1, batchSize: 64);

        Assert.Equal(5, reader.DrainAll());
        Assert.Equal(new ulong[] { 1, 5 }, sink.Batches.SelectMany(b => b.Cookies));
        Assert.Equal(2, reader.Stats.Records);
        Assert.Equal(3, reader.Stats.DecodeErrors);
        Assert.Equal(1, reader.Stats.DecodeErrorsOf(RecordDecodeResult.Truncated));
        Assert.Equal(1, reader.Stats.DecodeErrorsOf(RecordDecodeResult.UnknownKind));
        Assert.Equal(1, reader.Stats.DecodeErrorsOf(RecordDecodeResult.UnsupportedVersion));
    }

    [Fact]
    public void The_reader_thread_delivers_records_written_while_it_runs()
    {
        using var sim = new SimulatedRing(1 << 16);
        var sink = new ListSink();
        using var reader = new CpuRingReader(0, sim.Ring, sink, pollMs: 1, batchSize: 64);
        reader.Start();
        for (ulong i = 1; i <= 50; i++)
            sim.Write(Record(i));
        reader.StopAndDrain();

        Assert.Equal(Enumerable.Range(1, 50).Select(i => (ulong)i), sink.Batches.SelectMany(b => b.Cookies));
    }
}
