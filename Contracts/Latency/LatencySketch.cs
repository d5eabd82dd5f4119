using FlowMesh.Contracts.Messages;

namespace FlowMesh.Contracts.Latency;

/// <summary>
/// A mergeable latency histogram with bounded relative error (the DDSketch scheme):
/// bucket i counts values in (gamma^(i-1), gamma^i], and a quantile is answered by the
/// bucket's midpoint 2 gamma^i / (gamma + 1), within <see cref="RelativeAccuracy"/> of
/// the true value at that rank. Merging adds counts bucket by bucket, so the merged
/// sketch of many members is the sketch of all their values, whatever the order.
/// </summary>
/// <remarks>
/// Written here rather than taken from HdrHistogram: HdrHistogram keeps a fixed array
/// over its whole trackable range (about 2,300 counters for 1 us..1 h at 2 significant
/// digits, ~18 KB) and its error bound is relative to the bucket's range, while this
/// sketch keeps only the range of values actually seen (a connect latency on one edge
/// spans a few hundred buckets) and its bound is relative to each value. Stored per edge,
/// metric, member and 10 s bucket, that size is what Redis holds.
/// Not thread-safe: one writer at a time (the recorder locks around it).
/// </remarks>
public sealed class LatencySketch
{
    /// <summary>Half a percent: after any merge, a percentile is within 0.5% of the true value at its rank.</summary>
    public const double DefaultRelativeAccuracy = 0.005;

    /// <summary>Values at or below this (microseconds) share one low bucket; the kernel reports RTT in whole microseconds.</summary>
    public const double MinTrackedMicros = 1.0;

    private readonly double _gamma;
    private readonly double _logGamma;
    private long[] _counts = [];
    private int _offset;

    public LatencySketch(double relativeAccuracy = DefaultRelativeAccuracy)
    {
        if (relativeAccuracy is <= 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(relativeAccuracy), "must be in (0, 1)");
        RelativeAccuracy = relativeAccuracy;
        _gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
        _logGamma = Math.Log(_gamma);
    }

    public double RelativeAccuracy { get; }
    public long Count { get; private set; }
    public long LowCount { get; private set; }
    public double Sum { get; private set; }
    public double Min { get; private set; } = double.PositiveInfinity;
    public double Max { get; private set; } = double.NegativeInfinity;
    public bool IsEmpty => Count == 0;

    /// <summary>Adds a value in microseconds; NaN and negative values are ignored (counted by the caller).</summary>
    public bool Add(double micros, long count = 1)
    {
        if (double.IsNaN(micros) || micros < 0 || count <= 0)
            return false;
        if (micros <= MinTrackedMicros)
            LowCount += count;
        else
            Grow(IndexOf(micros))[0] += count;
        Count += count;
        Sum += micros * count;
        Min = Math.Min(Min, micros);
        Max = Math.Max(Max, micros);
        return true;
    }

    /// <summary>Adds every value of <paramref name="other"/> (which must have the same accuracy).</summary>
    public void Merge(LatencySketch other)
    {
        if (other.RelativeAccuracy != RelativeAccuracy)
            throw new ArgumentException("sketches of different accuracy cannot be merged", nameof(other));
        if (other.IsEmpty)
            return;
        if (other._counts.Length > 0)
        {
            Grow(other._offset);
            Grow(other._offset + other._counts.Length - 1);
            var shift = other._offset - _offset;
            for (var i = 0; i < other._counts.Length; i++)
                _counts[shift + i] += other._counts[i];
        }
        LowCount += other.LowCount;
        Count += other.Count;
        Sum += other.Sum;
        Min = Math.Min(Min, other.Min);
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>
    /// The value at rank q·(n−1) (0 ≤ q ≤ 1) within the relative accuracy, clamped to the
    /// exact minimum and maximum; NaN when empty.
    /// </summary>
    public double Quantile(double q)
    {
        if (q is < 0 or > 1 || double.IsNaN(q))
            throw new ArgumentOutOfRangeException(nameof(q), "must be in [0, 1]");
        if (Count == 0)
            return double.NaN;
        var rank = q * (Count - 1);
        double seen = LowCount;
        if (seen > rank)
            return Min;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen > rank)
                return Math.Clamp(ValueOf(_offset + i), Min, Max);
        }
        return Max;
    }

    /// <summary>Each non-empty bucket as (upper bound in microseconds, count), in order; the low bucket first.</summary>
    public IEnumerable<(double UpperMicros, long Count)> Buckets()
    {
        if (LowCount > 0)
            yield return (MinTrackedMicros, LowCount);
        for (var i = 0; i < _counts.Length; i++)
        {
            if (_counts[i] > 0)
                yield return (Math.Pow(_gamma, _offset + i), _counts[i]);
        }
    }

    public LatencySketchData ToData()
    {
        var data = new LatencySketchData
        {
            RelativeAccuracy = RelativeAccuracy,
            Offset = _offset,
            LowCount = (ulong)LowCount,
            Sum = Sum,
            Min = IsEmpty ? 0 : Min,
            Max = IsEmpty ? 0 : Max,
        };
        // Only the occupied range is stored: the array keeps spare room for growth.
        int first = 0, last = _counts.Length - 1;
        while (first <= last && _counts[first] == 0)
            first++;
        while (last >= first && _counts[last] == 0)
            last--;
        data.Offset = _offset + first;
        for (var i = first; i <= last; i++)
            data.Counts.Add((ulong)_counts[i]);
        return data;
    }

    /// <summary>A sketch from its stored form; throws <see cref="FormatException"/> for one that cannot be a sketch.</summary>
    public static LatencySketch FromData(LatencySketchData data)
    {
        if (data.RelativeAccuracy is <= 0 or >= 1)
            throw new FormatException($"sketch accuracy {data.RelativeAccuracy} is not in (0, 1)");
        var sketch = new LatencySketch(data.RelativeAccuracy) { _offset = data.Offset, LowCount = (long)data.LowCount, Sum = data.Sum };
        sketch._counts = new long[data.Counts.Count];
        long count = sketch.LowCount;
        for (var i = 0; i < data.Counts.Count; i++)
            count += sketch._counts[i] = (long)data.Counts[i];
        sketch.Count = count;
        if (count > 0)
        {
            sketch.Min = data.Min;
            sketch.Max = data.Max;
        }
        return sketch;
    }

    private int IndexOf(double micros) => (int)Math.Ceiling(Math.Log(micros) / _logGamma);

    private double ValueOf(int index) => 2 * Math.Pow(_gamma, index) / (_gamma + 1);

    /// <summary>Makes room for bucket <paramref name="index"/>; returns the span starting at it.</summary>
    private Span<long> Grow(int index)
    {
        if (_counts.Length == 0)
        {
            // Room for a few neighbours: values of one metric cluster together.
            _counts = new long[16];
            _offset = index - 8;
        }
        else if (index < _offset)
        {
            var extra = Math.Max(_offset - index, _counts.Length / 2);
            var grown = new long[_counts.Length + extra];
            _counts.CopyTo(grown, extra);
            _counts = grown;
            _offset -= extra;
        }
        else if (index >= _offset + _counts.Length)
        {
            var needed = index - _offset + 1;
            Array.Resize(ref _counts, Math.Max(needed, _counts.Length + _counts.Length / 2));
        }
        return _counts.AsSpan(index - _offset);
    }
}
