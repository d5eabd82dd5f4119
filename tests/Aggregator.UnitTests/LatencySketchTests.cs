using FlowMesh.Contracts.Latency;
using FlowMesh.Contracts.Messages;
using Google.Protobuf;

namespace FlowMesh.Aggregator.UnitTests;

public sealed class LatencySketchTests
{
    private static readonly double[] Quantiles = [0.5, 0.9, 0.99, 0.999];
    private const int Values = 200_000;

    public static TheoryData<string> Distributions => ["uniform", "log-normal", "bimodal"];

    /// <summary>Values in microseconds, from a fixed seed.</summary>
    private static double[] Sample(string distribution, int seed, int n = Values)
    {
        var random = new Random(seed);
        var values = new double[n];
        for (var i = 0; i < n; i++)
        {
            values[i] = distribution switch
            {
                "uniform" => 50 + random.NextDouble() * 999_950, // 50 us .. 1 s
                "log-normal" => Math.Exp(Math.Log(5_000) + 1.2 * Gaussian(random)), // median 5 ms, long tail
                "bimodal" => random.NextDouble() < 0.9
                    ? Math.Max(2, 800 + 150 * Gaussian(random))         // fast path ~0.8 ms
                    : Math.Max(2, 250_000 + 40_000 * Gaussian(random)), // slow path ~250 ms
                _ => throw new ArgumentException(distribution),
            };
        }
        return values;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>The exact value at rank q·(n−1), the definition the sketch answers for.</summary>
    private static double Exact(double[] sorted, double q) => sorted[(int)Math.Floor(q * (sorted.Length - 1))];

    private static void AssertWithinOnePercent(double[] values, LatencySketch sketch)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        Assert.Equal(values.Length, sketch.Count);
        foreach (var q in Quantiles)
        {
            var exact = Exact(sorted, q);
            var estimate = sketch.Quantile(q);
            var error = Math.Abs(estimate - exact) / exact;
            Assert.True(error <= 0.01, $"q={q}: estimate {estimate:F2} us vs exact {exact:F2} us, relative error {error:P3} > 1%");
            // The sketch promises half a percent; check that too, so a regression shows before it breaks the target.
            Assert.True(error <= LatencySketch.DefaultRelativeAccuracy + 1e-9, $"q={q}: relative error {error:P3} above the sketch's bound");
        }
        Assert.Equal(sorted[0], sketch.Min);
        Assert.Equal(sorted[^1], sketch.Max);
    }

    [Theory]
    [MemberData(nameof(Distributions))]
    public void Percentiles_are_within_one_percent_of_the_exact_ones(string distribution)
    {
        var values = Sample(distribution, seed: 42);
        var sketch = new LatencySketch();
        foreach (var v in values)
            Assert.True(sketch.Add(v));
        AssertWithinOnePercent(values, sketch);
    }

    [Theory]
    [MemberData(nameof(Distributions))]
    public void Three_members_merged_through_their_stored_form_are_within_one_percent_of_all_values(string distribution)
    {
        // Each member sees a different slice and a different mix: member 2 sees only the
        // slowest third, so the merged tail comes from one member alone.
        var values = Sample(distribution, seed: 7);
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        var members = new[] { new LatencySketch(), new LatencySketch(), new LatencySketch() };
        for (var i = 0; i < sorted.Length; i++)
            members[i * 3 / sorted.Length].Add(sorted[i]);

        var stored = members.Select(m => m.ToData().ToByteArray()).ToArray();
        var merged = new LatencySketch();
        foreach (var bytes in stored)
            merged.Merge(LatencySketch.FromData(LatencySketchData.Parser.ParseFrom(bytes)));
        AssertWithinOnePercent(values, merged);

        // Merging is order-free: any order gives the same answers.
        var reversed = new LatencySketch();
        foreach (var bytes in stored.Reverse())
            reversed.Merge(LatencySketch.FromData(LatencySketchData.Parser.ParseFrom(bytes)));
        foreach (var q in Quantiles)
            Assert.Equal(merged.Quantile(q), reversed.Quantile(q));
    }

    [Fact]
    public void A_merged_sketch_answers_exactly_as_one_that_saw_every_value()
    {
        var a = Sample("log-normal", 1, 10_000);
        var b = Sample("bimodal", 2, 10_000);
        var whole = new LatencySketch();
        var left = new LatencySketch();
        var right = new LatencySketch();
        foreach (var v in a)
        {
            whole.Add(v);
            left.Add(v);
        }
        foreach (var v in b)
        {
            whole.Add(v);
            right.Add(v);
        }
        left.Merge(right);
        Assert.Equal(whole.Count, left.Count);
        for (var q = 0.0; q <= 1.0; q += 0.05)
            Assert.Equal(whole.Quantile(q), left.Quantile(q));
        Assert.Equal(whole.Buckets().ToList(), left.Buckets().ToList());
    }

    [Fact]
    public void Sub_microsecond_values_are_counted_and_bad_ones_refused()
    {
        var sketch = new LatencySketch();
        Assert.True(sketch.Add(0));
        Assert.True(sketch.Add(0.5));
        Assert.True(sketch.Add(100));
        Assert.False(sketch.Add(double.NaN));
        Assert.False(sketch.Add(-1));
        Assert.Equal(3, sketch.Count);
        Assert.Equal(2, sketch.LowCount);
        Assert.Equal(0, sketch.Quantile(0));
        Assert.InRange(sketch.Quantile(1), 99.5, 100);
        Assert.True(double.IsNaN(new LatencySketch().Quantile(0.99)));
        Assert.Throws<ArgumentOutOfRangeException>(() => sketch.Quantile(1.5));
    }

    [Fact]
    public void The_stored_form_keeps_only_the_occupied_range()
    {
        var sketch = new LatencySketch();
        for (var v = 1_000.0; v < 2_000; v += 1)
            sketch.Add(v);
        var data = sketch.ToData();
        // ln(2)/ln(gamma) ~ 70 buckets between 1 ms and 2 ms; no spare room is written.
        Assert.InRange(data.Counts.Count, 65, 75);
        Assert.NotEqual(0UL, data.Counts[0]);
        Assert.NotEqual(0UL, data.Counts[^1]);
        var back = LatencySketch.FromData(LatencySketchData.Parser.ParseFrom(data.ToByteArray()));
        Assert.Equal(sketch.Quantile(0.99), back.Quantile(0.99));
        Assert.Throws<FormatException>(() => LatencySketch.FromData(new LatencySketchData { RelativeAccuracy = 2 }));
    }

    [Fact]
    public void Sketches_of_different_accuracy_do_not_merge()
    {
        var a = new LatencySketch(0.005);
        var b = new LatencySketch(0.01);
        b.Add(10);
        Assert.Throws<ArgumentException>(() => a.Merge(b));
    }
}

public sealed class LatencySketchFuzzTests
{
    [Fact]
    public void Every_value_lands_in_a_bucket_whatever_the_order()
    {
        var random = new Random(3);
        for (var round = 0; round < 2000; round++)
        {
            var sketch = new LatencySketch();
            var n = random.Next(1, 60);
            for (var i = 0; i < n; i++)
                sketch.Add(Math.Exp(random.NextDouble() * 12));
            Assert.Equal(sketch.Count, sketch.Buckets().Sum(b => b.Count));
            var back = LatencySketch.FromData(LatencySketchData.Parser.ParseFrom(sketch.ToData().ToByteArray()));
            Assert.Equal(sketch.Count, back.Buckets().Sum(b => b.Count));
        }
    }
}
