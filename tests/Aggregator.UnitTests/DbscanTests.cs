using System.Diagnostics;
using FlowMesh.Aggregator.Anomalies;
using Xunit.Abstractions;

namespace FlowMesh.Aggregator.UnitTests;

public sealed class DbscanTests(ITestOutputHelper output)
{
    [Fact]
    public void Two_blobs_and_far_noise_make_two_clusters()
    {
        var random = new Random(16);
        var points = new List<double>();
        const int PerBlob = 200;
        AddBlob(points, random, PerBlob, 0, 0);
        AddBlob(points, random, PerBlob, 10, 10);
        // Far and sparse: 20 points in a 900 × 900 square are nowhere near 5 to an eps of 0.5.
        const int NoisePoints = 20;
        for (var i = 0; i < NoisePoints; i++)
        {
            points.Add(100 + random.NextDouble() * 900);
            points.Add(100 + random.NextDouble() * 900);
        }

        var labels = Dbscan.Cluster(points.ToArray(), 2, eps: 0.5, minPoints: 5);

        Assert.Equal(2 * PerBlob + NoisePoints, labels.Length);
        Assert.Equal(2, labels.Max() + 1);
        for (var i = 0; i < PerBlob; i++)
        {
            Assert.Equal(0, labels[i]);
            Assert.Equal(1, labels[PerBlob + i]);
        }
        for (var i = 2 * PerBlob; i < labels.Length; i++)
        {
            Assert.Equal(Dbscan.Noise, labels[i]);
        }
    }

    [Fact]
    public void Border_point_joins_the_cluster_of_its_core_neighbour()
    {
        // eps 1, minPoints 3: (1,0) has three points within 1 and is core; (0,0) and (2,0)
        // have two each and are border. (0,0) comes first, so it is first found to be noise
        // and must then be claimed by the cluster; (9,9) is nobody's neighbour.
        double[] points = [0, 0, 1, 0, 2, 0, 9, 9];

        var labels = Dbscan.Cluster(points, 2, eps: 1, minPoints: 3);

        Assert.Equal([0, 0, 0, Dbscan.Noise], labels);
    }

    [Fact]
    public void Border_point_between_two_clusters_goes_to_the_first_that_reaches_it()
    {
        // minPoints 4, eps 1. Each side's core (±1,0) holds its three satellites and the
        // middle point; the middle point (0,0) holds only itself and the two cores: border.
        double[] left = [-1, 0, -1.5, 0.3, -1.5, -0.3, -2, 0];
        double[] right = [1, 0, 1.5, 0.3, 1.5, -0.3, 2, 0];
        double[] middle = [0, 0];

        var leftFirst = Dbscan.Cluster([.. left, .. middle, .. right], 2, eps: 1, minPoints: 4);
        var rightFirst = Dbscan.Cluster([.. right, .. middle, .. left], 2, eps: 1, minPoints: 4);

        Assert.Equal([0, 0, 0, 0, 0, 1, 1, 1, 1], leftFirst);
        Assert.Equal([0, 0, 0, 0, 0, 1, 1, 1, 1], rightFirst);
    }

    [Fact]
    public void Distance_equal_to_eps_is_inside()
    {
        // 3-4-5 triangle: the two points are exactly 5 apart.
        double[] points = [0, 0, 3, 4];

        Assert.Equal([0, 0], Dbscan.Cluster(points, 2, eps: 5, minPoints: 2));
        Assert.Equal([Dbscan.Noise, Dbscan.Noise], Dbscan.Cluster(points, 2, eps: 4.999, minPoints: 2));
    }

    [Fact]
    public void MinPoints_one_leaves_no_noise()
    {
        var points = RandomPoints(new Random(1), 300, 3, 0, 20);

        var labels = Dbscan.Cluster(points, 3, eps: 1, minPoints: 1);

        Assert.All(labels, label => Assert.True(label >= 0));
        // Isolated points are clusters of one, so there must be several clusters here.
        Assert.True(labels.Max() > 1);
    }

    [Fact]
    public void Identical_points_make_one_cluster()
    {
        var points = new double[100 * 3];
        for (var i = 0; i < 100; i++)
        {
            points[3 * i] = 3;
            points[3 * i + 1] = 4;
            points[3 * i + 2] = 5;
        }

        Assert.All(Dbscan.Cluster(points, 3, eps: 0.001, minPoints: 5), label => Assert.Equal(0, label));
        Assert.All(Dbscan.Cluster(points, 3, eps: 0.001, minPoints: 101), label => Assert.Equal(Dbscan.Noise, label));
    }

    [Fact]
    public void Empty_input_and_a_single_point()
    {
        Assert.Empty(Dbscan.Cluster([], 3, eps: 1, minPoints: 2));
        Assert.Equal([Dbscan.Noise], Dbscan.Cluster([1, 2, 3], 3, eps: 1, minPoints: 2));
        Assert.Equal([0], Dbscan.Cluster([1, 2, 3], 3, eps: 1, minPoints: 1));
    }

    [Fact]
    public void Non_finite_coordinates_are_noise_and_do_not_disturb_the_rest()
    {
        double[] points = [0, 0, 0.5, 0, double.NaN, 0, 1, 0, double.PositiveInfinity, 0, 0.25, double.NaN];

        // Even with minPoints 1, where every finite point is a cluster.
        Assert.Equal([0, 0, Dbscan.Noise, 0, Dbscan.Noise, Dbscan.Noise], Dbscan.Cluster(points, 2, eps: 0.5, minPoints: 1));
        Assert.Equal([0, 0, Dbscan.Noise, 0, Dbscan.Noise, Dbscan.Noise], Dbscan.Cluster(points, 2, eps: 0.5, minPoints: 2));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(1e200)]
    public void Bad_eps_is_refused(double eps)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Dbscan.Cluster([1, 2], 2, eps, minPoints: 2));
    }

    [Fact]
    public void Bad_shapes_and_minPoints_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Dbscan.Cluster([1, 2], 2, eps: 1, minPoints: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dbscan.Cluster([1, 2, 3, 4, 5], 2, eps: 1, minPoints: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dbscan.Cluster([1, 2], 0, eps: 1, minPoints: 2));
    }

    [Fact]
    public void Same_order_gives_same_labels_and_shuffled_order_gives_same_partition()
    {
        var random = new Random(7);
        var points = new List<double>();
        AddBlob(points, random, 150, 0, 0);
        AddBlob(points, random, 150, 6, 0);
        AddBlob(points, random, 150, 0, 6);
        for (var i = 0; i < 30; i++)
        {
            points.Add(-20 + random.NextDouble() * 40);
            points.Add(-20 + random.NextDouble() * 40);
        }
        var data = points.ToArray();
        var n = data.Length / 2;

        var first = Dbscan.Cluster(data, 2, eps: 0.5, minPoints: 5);
        var second = Dbscan.Cluster(data, 2, eps: 0.5, minPoints: 5);
        Assert.Equal(first, second);

        // The blobs are far apart, so no border point is shared and the partition may not change.
        var order = Enumerable.Range(0, n).ToArray();
        random.Shuffle(order);
        var shuffled = new double[data.Length];
        for (var i = 0; i < n; i++)
        {
            shuffled[2 * i] = data[2 * order[i]];
            shuffled[2 * i + 1] = data[2 * order[i] + 1];
        }
        var shuffledLabels = Dbscan.Cluster(shuffled, 2, eps: 0.5, minPoints: 5);
        var unshuffled = new int[n];
        for (var i = 0; i < n; i++)
        {
            unshuffled[order[i]] = shuffledLabels[i];
        }

        Assert.Equal(Partition(first), Partition(unshuffled));
        Assert.Equal(3, first.Max() + 1);
        Assert.Contains(Dbscan.Noise, first);
    }

    [Fact]
    public void Agrees_with_the_textbook_algorithm_on_random_sets()
    {
        var random = new Random(2024);
        var clustersSeen = 0;
        var noiseSeen = 0;
        for (var set = 0; set < 20; set++)
        {
            var n = random.Next(50, 301);
            var d = random.Next(2, 5);
            var data = MixedPoints(random, n, d);
            if (set % 2 == 1)
            {
                // A categorical feature (host, edge) as a whole number: many ties on one axis.
                for (var i = 0; i < n; i++)
                {
                    data[i * d + d - 1] = Math.Round(data[i * d + d - 1]);
                }
            }
            var eps = 0.3 + random.NextDouble() * 1.2;
            var minPoints = random.Next(1, 9);

            var labels = Dbscan.Cluster(data, d, eps, minPoints);
            var expected = Reference(ToRows(data, d), eps, minPoints);

            // Same discovery order and the same first-reach rule for borders, so the labels
            // themselves agree, not only the partitions.
            Assert.Equal(expected, labels);
            clustersSeen += labels.Max() + 1;
            noiseSeen += labels.Count(label => label == Dbscan.Noise);
        }
        output.WriteLine($"20 sets: {clustersSeen} clusters, {noiseSeen} noise points");
        Assert.True(clustersSeen > 20);
        Assert.True(noiseSeen > 0);
    }

    [Fact]
    public void Five_thousand_points_in_four_dimensions_timed()
    {
        const int N = 5_000;
        const int D = 4;
        var data = MixedPoints(new Random(5), N, D);

        // Warm-up so the figure is the steady state, not the JIT.
        Dbscan.Cluster(data.AsSpan(0, 100 * D), D, eps: 0.8, minPoints: 5);
        var watch = Stopwatch.StartNew();
        var labels = Dbscan.Cluster(data, D, eps: 0.8, minPoints: 5);
        watch.Stop();

        output.WriteLine($"n = {N}, d = {D}: {watch.Elapsed.TotalMilliseconds:F1} ms, "
            + $"{labels.Max() + 1} clusters, {labels.Count(label => label == Dbscan.Noise)} noise");
        // Correctness only; the time is printed, not asserted, so a slow runner cannot flake it.
        // Under -c Debug the JIT does not optimise and the figure is about ten times Release's.
        Assert.Equal(Reference(ToRows(data, D), 0.8, 5), labels);
    }

    /// <summary>
    /// DBSCAN as the textbook writes it (Wikipedia's pseudocode of the 1996 paper): arrays
    /// of rows, a square root per pair, a seed list that grows with duplicates.
    /// </summary>
    private static int[] Reference(double[][] points, double eps, int minPoints)
    {
        const int Undefined = -2;
        var labels = new int[points.Length];
        Array.Fill(labels, Undefined);
        var cluster = 0;
        for (var p = 0; p < points.Length; p++)
        {
            if (labels[p] != Undefined)
            {
                continue;
            }
            var neighbours = RangeQuery(points, p, eps);
            if (neighbours.Count < minPoints)
            {
                labels[p] = -1;
                continue;
            }
            labels[p] = cluster;
            var seeds = new List<int>(neighbours);
            seeds.Remove(p);
            for (var s = 0; s < seeds.Count; s++)
            {
                var q = seeds[s];
                if (labels[q] == -1)
                {
                    labels[q] = cluster;
                }
                if (labels[q] != Undefined)
                {
                    continue;
                }
                labels[q] = cluster;
                var qNeighbours = RangeQuery(points, q, eps);
                if (qNeighbours.Count >= minPoints)
                {
                    seeds.AddRange(qNeighbours);
                }
            }
            cluster++;
        }
        return labels;
    }

    private static List<int> RangeQuery(double[][] points, int p, double eps)
    {
        var result = new List<int>();
        for (var q = 0; q < points.Length; q++)
        {
            var sum = 0.0;
            for (var k = 0; k < points[p].Length; k++)
            {
                sum += (points[p][k] - points[q][k]) * (points[p][k] - points[q][k]);
            }
            if (Math.Sqrt(sum) <= eps)
            {
                result.Add(q);
            }
        }
        return result;
    }

    /// <summary>Each point labelled by the smallest index in its cluster, so two labellings compare as partitions.</summary>
    private static int[] Partition(int[] labels)
    {
        var smallest = new Dictionary<int, int>();
        var result = new int[labels.Length];
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] == Dbscan.Noise)
            {
                result[i] = -1;
                continue;
            }
            if (!smallest.TryGetValue(labels[i], out var first))
            {
                first = i;
                smallest[labels[i]] = i;
            }
            result[i] = first;
        }
        return result;
    }

    /// <summary>A blob of σ = 0.3 around (x, y), cut at 2.5σ so that no tail point strays into noise.</summary>
    private static void AddBlob(List<double> points, Random random, int count, double x, double y)
    {
        for (var i = 0; i < count; i++)
        {
            points.Add(x + 0.3 * Math.Clamp(Gaussian(random), -2.5, 2.5));
            points.Add(y + 0.3 * Math.Clamp(Gaussian(random), -2.5, 2.5));
        }
    }

    /// <summary>A few blobs of random width in a 10-wide cube, a fifth of the points uniform: clusters, borders and noise.</summary>
    private static double[] MixedPoints(Random random, int n, int d)
    {
        var blobs = random.Next(2, 6);
        var centres = RandomPoints(random, blobs, d, 0, 10);
        var widths = new double[blobs];
        for (var b = 0; b < blobs; b++)
        {
            widths[b] = 0.2 + random.NextDouble() * 0.8;
        }
        var data = new double[n * d];
        for (var i = 0; i < n; i++)
        {
            var uniform = random.NextDouble() < 0.2;
            var b = random.Next(blobs);
            for (var k = 0; k < d; k++)
            {
                data[i * d + k] = uniform
                    ? random.NextDouble() * 10
                    : centres[b * d + k] + widths[b] * Gaussian(random);
            }
        }
        return data;
    }

    private static double[] RandomPoints(Random random, int n, int d, double low, double high)
    {
        var data = new double[n * d];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = low + random.NextDouble() * (high - low);
        }
        return data;
    }

    private static double[][] ToRows(double[] data, int d)
    {
        var rows = new double[data.Length / d][];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = data.AsSpan(i * d, d).ToArray();
        }
        return rows;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
