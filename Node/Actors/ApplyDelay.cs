using HdrHistogram;

namespace FlowMesh.Node.Actors;

/// <summary>
/// The delay from each event's kernel timestamp to the moment its shard applied it, over
/// the last <see cref="WindowSeconds"/> seconds: what the ordering horizon and the path to
/// the shards cost a flow's state now (not since the Node started). HdrHistogram's
/// concurrent recorder, since shards apply on several threads; a new histogram each
/// second, the last ten merged when read.
/// </summary>
public sealed class ApplyDelay
{
    public const int WindowSeconds = 10;
    private const long MaxMicros = 600_000_000; // 10 min
    private readonly Lock _lock = new();
    private readonly Queue<LongConcurrentHistogram> _recent = new();
    private LongConcurrentHistogram _live = New();
    private long _liveSinceMs = Environment.TickCount64;

    private static LongConcurrentHistogram New() => new(1, MaxMicros, 2);

    /// <summary>Records one event applied <paramref name="delayNs"/> after its kernel timestamp.</summary>
    public void Observe(long delayNs) => Volatile.Read(ref _live).RecordValue(Math.Clamp(delayNs / 1000, 1, MaxMicros));

    /// <summary>The delays at these percentiles (0-100) over the window, in microseconds; 0 when nothing was applied.</summary>
    public (long P50, long P99) Percentiles()
    {
        lock (_lock)
        {
            var now = Environment.TickCount64;
            if (now - _liveSinceMs >= 1000)
            {
                // A shard that read the old histogram just before the swap records into it: it is still in the window.
                _recent.Enqueue(Interlocked.Exchange(ref _live, New()));
                _liveSinceMs = now;
                while (_recent.Count > WindowSeconds - 1)
                    _recent.Dequeue();
            }
            var merged = new LongHistogram(1, MaxMicros, 2);
            foreach (var h in _recent)
                merged.Add(h);
            merged.Add(Volatile.Read(ref _live));
            return merged.TotalCount == 0 ? (0, 0) : (merged.GetValueAtPercentile(50), merged.GetValueAtPercentile(99));
        }
    }
}
