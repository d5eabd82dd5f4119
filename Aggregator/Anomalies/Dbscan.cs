namespace FlowMesh.Aggregator.Anomalies;

/// <summary>
/// DBSCAN (Ester, Kriegel, Sander, Xu, 1996) over points in a flat row-major buffer.
/// </summary>
/// <remarks>
/// <para>
/// Points come as one <see cref="ReadOnlySpan{T}"/> of n × d doubles rather than
/// <c>double[][]</c>: the caller fills one feature buffer per pass (it can be pooled), a
/// point costs no allocation of its own, and rows are copied once into the search's order
/// without chasing n row references.
/// </para>
/// <para>
/// Definitions, as in the paper:
/// <list type="bullet">
/// <item>q is in p's eps-neighbourhood when the Euclidean distance is at most eps
/// (inclusive). The test is made on squares, Σ(pᵢ−qᵢ)² ≤ eps², to spare a square root
/// per pair; at the boundary that can differ from √Σ ≤ eps by one rounding.</item>
/// <item>p is a core point when its eps-neighbourhood, p itself included, holds at least
/// <c>minPoints</c> points. So minPoints = 1 makes every point core (no noise), and
/// minPoints = 2 makes a point core as soon as it has one other point within eps.</item>
/// <item>A border point (not core, but within eps of a core point) joins the first
/// cluster that reaches it. Clusters are discovered by scanning points in input order and
/// each is expanded completely before the scan moves on, so "first" means the cluster
/// whose earliest core point comes first in the input. Cores and noise do not depend on
/// the order; only a border point within eps of cores of two clusters can change cluster
/// when the input is reordered.</item>
/// <item>A point with a NaN or infinite coordinate is noise, whatever minPoints: it has no
/// meaningful distance to anything, itself included, so it is left out of the search and
/// is nobody's neighbour. Anomaly features can
/// come out NaN (a metric with no baseline yet); one bad row must not fail the pass.</item>
/// </list>
/// </para>
/// <para>
/// Neighbour search is brute force pruned on one axis: finite rows are sorted on the axis
/// of greatest variance, and a region query scans outward from its point until that
/// coordinate alone is more than eps away. No grid, no tree: the inputs are at most a few
/// thousand anomalous sessions per pass, each region is queried once, and the worst case
/// (everything within eps on that axis) is the plain O(n²) scan. Measured in
/// <c>DbscanTests</c> at n = 5,000, d = 4. The pruning changes which pairs are tested,
/// never the answer (see <c>RegionQuery</c>), and neighbour order within a cluster's
/// expansion does not change which points it claims.
/// </para>
/// </remarks>
public static class Dbscan
{
    /// <summary>The label of a point that belongs to no cluster.</summary>
    public const int Noise = -1;

    // Not yet reached by the scan or by any expansion; never returned.
    private const int Unclassified = -2;

    /// <summary>Clusters <paramref name="points"/>, n rows of <paramref name="dimensions"/> coordinates each.</summary>
    /// <returns>One label per point: cluster ids 0..k−1 in order of discovery, or <see cref="Noise"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">
    /// dimensions &lt; 1, the buffer's length is not a multiple of dimensions, eps is not
    /// greater than 0, is NaN, or has an infinite square, or minPoints &lt; 1.
    /// </exception>
    public static int[] Cluster(ReadOnlySpan<double> points, int dimensions, double eps, int minPoints)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        if (points.Length % dimensions != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(points), points.Length,
                $"The buffer's length must be a multiple of the dimension ({dimensions}).");
        }
        // Written as !(eps > 0) so that NaN, which fails every comparison, is refused too.
        // An eps whose square overflows (∞, or beyond ~1e154) is refused as well: with
        // eps² = ∞, two finite points whose squared distance overflows would be "within eps".
        if (!(eps > 0) || double.IsPositiveInfinity(eps * eps))
        {
            throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be greater than 0 and its square finite.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(minPoints, 1);

        var n = points.Length / dimensions;
        var labels = new int[n];
        if (n == 0)
        {
            return labels;
        }
        Array.Fill(labels, Unclassified);

        var eps2 = eps * eps;
        var axis = WidestAxis(points, dimensions, n);
        // Finite rows only, copied in order of their coordinate on the widest axis, so a
        // region query scans outward from the point and stops where that coordinate alone
        // is more than eps away. order maps a sorted position to its input index; rank is
        // the reverse, -1 for a row with a non-finite coordinate.
        var rank = new int[n];
        var keys = new double[n];
        var order = new int[n];
        var m = 0;
        for (var p = 0; p < n; p++)
        {
            if (IsFinite(points.Slice(p * dimensions, dimensions)))
            {
                keys[m] = points[p * dimensions + axis];
                order[m++] = p;
            }
            else
            {
                rank[p] = -1;
            }
        }
        Array.Sort(keys, order, 0, m);
        var sorted = new double[m * dimensions];
        for (var s = 0; s < m; s++)
        {
            rank[order[s]] = s;
            points.Slice(order[s] * dimensions, dimensions).CopyTo(sorted.AsSpan(s * dimensions));
        }

        // One neighbour buffer suffices: a region's neighbours are consumed before the next query.
        var neighbours = new int[n];
        // Each point is enqueued at most once (it is labelled when enqueued), so n slots never overflow.
        var queue = new int[n];
        var nextCluster = 0;

        for (var p = 0; p < n; p++)
        {
            if (labels[p] != Unclassified)
            {
                continue;
            }
            if (rank[p] < 0)
            {
                labels[p] = Noise;
                continue;
            }
            var count = RegionQuery(sorted, dimensions, axis, m, rank[p], eps2, order, neighbours);
            if (count < minPoints)
            {
                // May still become a border point of a cluster discovered later.
                labels[p] = Noise;
                continue;
            }

            var cluster = nextCluster++;
            labels[p] = cluster;
            var head = 0;
            var tail = Claim(neighbours, count, labels, cluster, queue, 0);
            while (head < tail)
            {
                var q = queue[head++];
                count = RegionQuery(sorted, dimensions, axis, m, rank[q], eps2, order, neighbours);
                if (count >= minPoints)
                {
                    tail = Claim(neighbours, count, labels, cluster, queue, tail);
                }
            }
        }
        return labels;
    }

    /// <summary>
    /// Gives a core point's unclaimed neighbours to <paramref name="cluster"/>: unvisited
    /// ones are queued for expansion; ones already found to be noise become border points
    /// without a second region query, since they are known not to be core.
    /// </summary>
    private static int Claim(int[] neighbours, int count, int[] labels, int cluster, int[] queue, int tail)
    {
        for (var k = 0; k < count; k++)
        {
            var j = neighbours[k];
            var label = labels[j];
            if (label == Unclassified)
            {
                labels[j] = cluster;
                queue[tail++] = j;
            }
            else if (label == Noise)
            {
                labels[j] = cluster;
            }
        }
        return tail;
    }

    /// <summary>
    /// Writes the input indices of the points within eps of sorted position
    /// <paramref name="s"/> (itself included) and returns how many.
    /// </summary>
    /// <remarks>
    /// Stopping at the first point whose axis term alone exceeds eps² is exact, not an
    /// approximation: a rounded sum of non-negative terms is never below any one of them,
    /// and the term only grows as the scan moves away through sorted keys.
    /// </remarks>
    private static int RegionQuery(double[] sorted, int dimensions, int axis, int m, int s, double eps2, int[] order, int[] neighbours)
    {
        var origin = sorted.AsSpan(s * dimensions, dimensions);
        var key = origin[axis];
        var count = 0;
        for (var t = s; t >= 0; t--)
        {
            var delta = sorted[t * dimensions + axis] - key;
            if (delta * delta > eps2)
            {
                break;
            }
            if (Within(origin, sorted.AsSpan(t * dimensions, dimensions), eps2))
            {
                neighbours[count++] = order[t];
            }
        }
        for (var t = s + 1; t < m; t++)
        {
            var delta = sorted[t * dimensions + axis] - key;
            if (delta * delta > eps2)
            {
                break;
            }
            if (Within(origin, sorted.AsSpan(t * dimensions, dimensions), eps2))
            {
                neighbours[count++] = order[t];
            }
        }
        return count;
    }

    private static bool Within(ReadOnlySpan<double> a, ReadOnlySpan<double> b, double eps2)
    {
        var sum = 0.0;
        for (var k = 0; k < a.Length; k++)
        {
            var delta = b[k] - a[k];
            sum += delta * delta;
        }
        return sum <= eps2;
    }

    /// <summary>The axis whose finite coordinates vary most: sorting on it prunes the most pairs.</summary>
    private static int WidestAxis(ReadOnlySpan<double> points, int dimensions, int n)
    {
        var best = 0;
        var bestVariance = 0.0;
        for (var k = 0; k < dimensions; k++)
        {
            var count = 0;
            var mean = 0.0;
            var m2 = 0.0;
            for (var p = 0; p < n; p++)
            {
                var x = points[p * dimensions + k];
                if (!double.IsFinite(x))
                {
                    continue;
                }
                // Welford's update: one pass, no catastrophic cancellation.
                count++;
                var delta = x - mean;
                mean += delta / count;
                m2 += delta * (x - mean);
            }
            // A NaN variance (coordinates near the double range) never wins; axis 0 is as good as any then.
            if (m2 > bestVariance)
            {
                best = k;
                bestVariance = m2;
            }
        }
        return best;
    }

    private static bool IsFinite(ReadOnlySpan<double> row)
    {
        foreach (var x in row)
        {
            if (!double.IsFinite(x))
            {
                return false;
            }
        }
        return true;
    }
}
