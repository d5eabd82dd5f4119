using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.UnitTests;

public sealed unsafe class RingBufferTests
{
    private struct Collect : IRingRecordHandler
    {
        public List<byte[]> Records;
        public void Handle(ReadOnlySpan<byte> record) => Records.Add(record.ToArray());
    }

    private static byte[] Payload(byte fill, int length) => Enumerable.Repeat(fill, length).ToArray();

    [Fact]
    public void Committed_records_are_read_in_order_and_space_is_released()
    {
        using var sim = new SimulatedRing(4096);
        sim.Write(Payload(1, 10));
        sim.Write(Payload(2, 136));
        sim.Write(Payload(3, 1));
        var handler = new Collect { Records = [] };

        Assert.Equal(3, sim.Ring.Drain(ref handler, 100));
        Assert.Equal(new[] { 10, 136, 1 }, handler.Records.Select(r => r.Length));
        Assert.Equal(new byte[] { 1, 2, 3 }, handler.Records.Select(r => r[0]));
        Assert.Equal(*sim.ProducerPos, *sim.ConsumerPos);
        Assert.Equal(0UL, sim.Ring.Pending);
    }

    [Fact]
    public void Reading_stops_at_a_record_still_being_written()
    {
        using var sim = new SimulatedRing(4096);
        sim.Write(Payload(1, 16));
        var busy = sim.Write(Payload(2, 16), busy: true);
        sim.Write(Payload(3, 16));
        var handler = new Collect { Records = [] };

        Assert.Equal(1, sim.Ring.Drain(ref handler, 100));
        Assert.Equal(busy, *sim.ConsumerPos);

        sim.Commit(busy, 16);
        Assert.Equal(2, sim.Ring.Drain(ref handler, 100));
        Assert.Equal(new byte[] { 1, 2, 3 }, handler.Records.Select(r => r[0]));
    }

    [Fact]
    public void Discarded_records_are_skipped()
    {
        using var sim = new SimulatedRing(4096);
        sim.Write(Payload(1, 16));
        sim.Write(Payload(2, 16), discard: true);
        sim.Write(Payload(3, 16));
        var handler = new Collect { Records = [] };

        Assert.Equal(2, sim.Ring.Drain(ref handler, 100));
        Assert.Equal(new byte[] { 1, 3 }, handler.Records.Select(r => r[0]));
        Assert.Equal(*sim.ProducerPos, *sim.ConsumerPos);
    }

    [Fact]
    public void A_record_that_wraps_around_the_end_reads_whole()
    {
        using var sim = new SimulatedRing(4096);
        var handler = new Collect { Records = [] };
        // Fill and consume until the next record straddles the end of the ring.
        for (var i = 0; i < 28; i++)
            sim.Write(Payload(9, 136));
        Assert.Equal(28, sim.Ring.Drain(ref handler, 100));
        var start = *sim.ProducerPos & 4095;
        Assert.True(start + 144 > 4096, $"test setup: record at {start} should wrap");

        var wrapped = Enumerable.Range(0, 136).Select(i => (byte)i).ToArray();
        sim.Write(wrapped);
        handler.Records.Clear();
        Assert.Equal(1, sim.Ring.Drain(ref handler, 100));
        Assert.Equal(wrapped, handler.Records[0]);
    }

    [Fact]
    public void At_most_the_requested_number_of_records_are_read()
    {
        using var sim = new SimulatedRing(4096);
        for (var i = 0; i < 10; i++)
            sim.Write(Payload((byte)i, 8));
        var handler = new Collect { Records = [] };

        Assert.Equal(4, sim.Ring.Drain(ref handler, 4));
        Assert.Equal(6, sim.Ring.Drain(ref handler, 100));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (byte)i), handler.Records.Select(r => r[0]));
    }

    [Fact]
    public void Sizes_that_are_not_powers_of_two_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RingBuffer(null, null, null, 3000));
    }
}
