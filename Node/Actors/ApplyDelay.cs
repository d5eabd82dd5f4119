using HdrHistogram;

namespace FlowMesh.Node.Actors;

/// <summary>
/// The delay from each event's kernel timestamp to the moment its flow applied it, since
/// the Node started: what the ordering horizon and the actor path cost a flow's state.
/// HdrHistogram's concurrent recorder, since flows apply on many threads at once.
/// </summary>
public sealed class ApplyDelay
{
    // 1 µs .. 10 min at 2 significant digits.
    private readonly LongConcurrentHistogram _micros = new(1, 600_000_000, 2);

    /// <summary>Records one event applied <paramref name="delayNs"/> after its kernel timestamp.</summary>
    public void Observe(long delayNs) => _micros.RecordValue(Math.Clamp(delayNs / 1000, 1, 600_000_000));

    public long Count => _micros.TotalCount;

    /// <summary>The delay at <paramref name="percentile"/> (0-100), in microseconds; 0 before any event.</summary>
    public long PercentileMicros(double percentile) => _micros.TotalCount == 0 ? 0 : _micros.GetValueAtPercentile(percentile);
}
