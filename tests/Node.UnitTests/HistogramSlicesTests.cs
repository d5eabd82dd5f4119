using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Latency;
using FlowMesh.Node.Runtime;

namespace FlowMesh.Node.UnitTests;

public sealed class HistogramSlicesTests
{
    private const ulong Second = 1_000_000_000;

    [Fact]
    public void Every_delay_falls_in_a_bucket_that_holds_it_and_is_a_sixteenth_of_its_octave_wide()
    {
        var random = new Random(7);
        for (var i = 0; i < 100_000; i++)
        {
            var ns = (ulong)Math.Exp(random.NextDouble() * Math.Log(1e10)) + 1024;
            var (low, high) = RuntimeHistogramRecord.RangeOf(RuntimeHistogramRecord.IndexOf(ns));
            Assert.InRange(ns, (ulong)low, (ulong)high - 1);
            Assert.True((high - low) / low <= 1.0 / 16, $"bucket [{low}, {high}) of {ns} ns is too wide");
        }
        Assert.Equal(0, RuntimeHistogramRecord.IndexOf(999));
        Assert.Equal(RuntimeHistogramRecord.BucketCount - 1, RuntimeHistogramRecord.IndexOf(ulong.MaxValue));
    }

    [Fact]
    public void A_flow_is_summarised_over_the_seconds_it_overlapped_only()
    {
        var slices = new HistogramSlices();
        var cumulative = default(RuntimeHistogramRecord);
        slices.Add(cumulative, 1 * Second, null);
        // Second 1..2: 100 waits of 10 us; second 2..3: 100 waits of 5 ms.
        Record(ref cumulative, 10_000, 100);
        slices.Add(cumulative, 2 * Second, null);
        Record(ref cumulative, 5_000_000, 100);
        slices.Add(cumulative, 3 * Second, null);

        var (early, earlyCount) = slices.Summarize(1 * Second + 10, 2 * Second - 10);
        Assert.Equal(100UL, earlyCount);
        Assert.InRange(early, 10 * 0.96, 10 * 1.04);
        var (late, lateCount) = slices.Summarize(2 * Second + 10, 3 * Second - 10);
        Assert.Equal(100UL, lateCount);
        Assert.InRange(late, 5000 * 0.96, 5000 * 1.04);
        var (both, bothCount) = slices.Summarize(1 * Second + 10, 3 * Second - 10);
        Assert.Equal(200UL, bothCount);
        Assert.InRange(both, 5000 * 0.96, 5000 * 1.04);
        Assert.Equal((0.0, 0UL), slices.Summarize(4 * Second, 5 * Second));
    }

    [Fact]
    public void Each_reading_adds_only_what_is_new_to_the_sketch_even_after_readings_without_one()
    {
        var slices = new HistogramSlices();
        var sketch = new LatencySketch();
        var cumulative = default(RuntimeHistogramRecord);
        Record(ref cumulative, 20_000, 10);
        slices.Add(cumulative, 1 * Second, sketch);
        Record(ref cumulative, 20_000, 5);
        slices.Add(cumulative, 1 * Second + 5_000_000, null); // a hand-off's reading
        Record(ref cumulative, 20_000, 5);
        slices.Add(cumulative, 2 * Second, sketch);
        Assert.Equal(20, sketch.Count);
        Assert.InRange(sketch.Quantile(0.5), 20 * 0.96, 20 * 1.04);
    }

    [Fact]
    public void A_histogram_that_starts_again_is_a_new_series()
    {
        var slices = new HistogramSlices();
        var cumulative = default(RuntimeHistogramRecord);
        Record(ref cumulative, 10_000, 50);
        slices.Add(cumulative, 1 * Second, null);
        var reused = default(RuntimeHistogramRecord); // the pid was reused: the kernel's entry was made again
        Record(ref reused, 10_000, 3);
        slices.Add(reused, 2 * Second, null);
        Assert.Equal(3UL, slices.TotalCount);
        Assert.Equal(3UL, slices.Summarize(2 * Second - 1, 2 * Second).Samples);
    }

    private static void Record(ref RuntimeHistogramRecord h, ulong ns, uint count)
    {
        h.Buckets[RuntimeHistogramRecord.IndexOf(ns)] += count;
        h.Count += count;
        h.SumNs += ns * count;
    }
}
