using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Latency;

namespace FlowMesh.Node.Runtime;

/// <summary>
/// One process's delays (run queue, or Go scheduling) over the last minute, in one-second
/// slices: each slice is what the kernel's cumulative histogram gained in that second, kept
/// sparse (a second of real waits touches a few dozen of the 386 buckets). A flow asks for
/// the slices its life overlapped; the newest, still-open second is read from the kernel
/// when the question comes, so a flow that just closed counts the waits up to its close.
/// Not thread-safe: the owner (<see cref="ProcessRuntime"/>) locks.
/// </summary>
internal sealed class HistogramSlices
{
    /// <summary>Seconds kept: a longer flow is summarised over its last minute.</summary>
    public const int Capacity = 60;

    private readonly Slice[] _ring = new Slice[Capacity];
    private int _next;
    private int _count;
    private uint[] _last = new uint[RuntimeHistogramRecord.BucketCount];
    private ulong _lastCount;
    private ulong _lastNs;
    private readonly uint[] _scratch = new uint[RuntimeHistogramRecord.BucketCount];
    // What the 10 s sketches have been given so far: readings for a flow's hand-off (no sketch) leave it behind.
    private readonly uint[] _sketched = new uint[RuntimeHistogramRecord.BucketCount];

    private readonly record struct Slice(ulong StartNs, ulong EndNs, ushort[] Index, uint[] Counts, ulong Count);

    /// <summary>Delays counted since the series began.</summary>
    public ulong TotalCount => _lastCount;

    /// <summary>
    /// Takes a new reading of the cumulative histogram at <paramref name="nowNs"/>: what it
    /// gained since the last reading becomes a slice. When <paramref name="sketch"/> is given
    /// (the monitor's once-a-second reading), what it gained since the last such reading is
    /// added to it (microseconds, for the 10 s series in Redis).
    /// </summary>
    public void Add(in RuntimeHistogramRecord cumulative, ulong nowNs, LatencySketch? sketch)
    {
        if (cumulative.Count < _lastCount)
            Reset(); // the kernel's entry was made again (the pid was reused): start over
        var gained = cumulative.Count - _lastCount;
        if (gained > 0)
        {
            var n = 0;
            for (var i = 0; i < RuntimeHistogramRecord.BucketCount; i++)
            {
                if (cumulative.Buckets[i] != _last[i])
                    n++;
            }
            var index = new ushort[n];
            var counts = new uint[n];
            n = 0;
            for (var i = 0; i < RuntimeHistogramRecord.BucketCount; i++)
            {
                var d = cumulative.Buckets[i] - _last[i];
                if (d == 0)
                    continue;
                index[n] = (ushort)i;
                counts[n++] = d;
            }
            // The first reading holds what the kernel counted since the process was first seen, moments ago.
            var startNs = _lastNs != 0 ? _lastNs : nowNs - Math.Min(nowNs, 1_000_000_000UL);
            _ring[_next] = new Slice(startNs, nowNs, index, counts, gained);
            _next = (_next + 1) % Capacity;
            _count = Math.Min(_count + 1, Capacity);
        }
        for (var i = 0; i < RuntimeHistogramRecord.BucketCount; i++)
        {
            var now = cumulative.Buckets[i];
            if (sketch is not null && now != _sketched[i])
            {
                sketch.Add(MidpointUs(i), now - _sketched[i]);
                _sketched[i] = now;
            }
            _last[i] = now;
        }
        _lastCount = cumulative.Count;
        _lastNs = nowNs;
    }

    /// <summary>The P99 (microseconds) of the delays in the slices that overlap [startNs, endNs], and how many there were.</summary>
    public (double P99Us, ulong Samples) Summarize(ulong startNs, ulong endNs)
    {
        Array.Clear(_scratch);
        ulong total = 0;
        for (var k = 0; k < _count; k++)
        {
            ref readonly var s = ref _ring[(_next - 1 - k + Capacity) % Capacity];
            if (s.EndNs < startNs)
                break; // older slices end earlier still
            if (s.StartNs > endNs)
                continue;
            for (var i = 0; i < s.Index.Length; i++)
                _scratch[s.Index[i]] += s.Counts[i];
            total += s.Count;
        }
        return (Quantile(_scratch, total, 0.99), total);
    }

    /// <summary>The value (microseconds) at quantile <paramref name="q"/> of bucket counts: the midpoint of the bucket that holds that rank.</summary>
    public static double Quantile(ReadOnlySpan<uint> buckets, ulong total, double q)
    {
        if (total == 0)
            return 0;
        var rank = (ulong)Math.Ceiling(q * total);
        ulong seen = 0;
        for (var i = 0; i < buckets.Length; i++)
        {
            seen += buckets[i];
            if (seen >= rank)
                return MidpointUs(i);
        }
        return MidpointUs(buckets.Length - 1);
    }

    public static double MidpointUs(int index)
    {
        var (low, high) = RuntimeHistogramRecord.RangeOf(index);
        return (low + high) / 2 / 1000.0;
    }

    private void Reset()
    {
        Array.Clear(_last);
        Array.Clear(_sketched);
        _lastCount = 0;
        _count = 0;
        _next = 0;
    }
}
