using HdrHistogram;

namespace FlowMesh.Node.Actors;

/// <summary>
/// The delay from each event's kernel timestamp to the moment its shard applied it, over
/// the last <see cref="WindowSeconds"/> seconds: what the ordering horizon and the path to
/// the shards cost a flow's state now (not since the Node started). Shards hand over a
/// round's delays at once (one lock a round, not a contended write per event, on several
/// threads); a new histogram each second, the last ten merged when read.
/// </summary>
public sealed class ApplyDelay
{
    public const int WindowSeconds = 10;
    private const long MaxMicros = 600_000_000; // 10 min
    private readonly Lock _lock = new();
    private readonly Queue<LongHistogram> _recent = new();
    private LongHistogram _live = New();
    private long _liveSinceMs = Environment.TickCount64;

    private static LongHistogram New() => new(1, MaxMicros, 2);

    /// <summary>Records the events of one round, each applied this many nanoseconds after its kernel timestamp.</summary>
    public void Observe(ReadOnlySpan<long> delaysNs)
    {
        if (delaysNs.IsEmpty)
            return;
        lock (_lock)
        {
            Rotate();
            foreach (var d in delaysNs)
                _live.RecordValue(Math.Clamp(d / 1000, 1, MaxMicros));
        }
    }

    /// <summary>The delays at these percentiles (0-100) over the window, in microseconds; 0 when nothing was applied.</summary>
    public (long P50, long P99) Percentiles()
    {
        lock (_lock)
        {
            Rotate();
            var merged = New();
            foreach (var h in _recent)
                merged.Add(h);
            merged.Add(_live);
            return merged.TotalCount == 0 ? (0, 0) : (merged.GetValueAtPercentile(50), merged.GetValueAtPercentile(99));
        }
    }

    /// <summary>A new histogram each second, by the clock, whoever comes first (under the lock).</summary>
    private void Rotate()
    {
        var now = Environment.TickCount64;
        if (now - _liveSinceMs < 1000)
            return;
        _recent.Enqueue(_live);
        _live = New();
        // A gap of several seconds leaves the old ones behind too.
        var gaps = Math.Min((now - _liveSinceMs) / 1000 - 1, WindowSeconds);
        for (var i = 0; i < gaps; i++)
            _recent.Enqueue(New());
        _liveSinceMs = now;
        while (_recent.Count > WindowSeconds - 1)
            _recent.Dequeue();
    }
}
