using Prometheus;

namespace FlowMesh.Aggregator.Metrics;

/// <summary>
/// A metric whose values something else keeps (this Aggregator's counters, a Node's status
/// hash in Redis), set to what they are each time <c>/metrics</c> is scraped. A counter that
/// went down (its member restarted) starts again, which Prometheus reads as a reset; a label
/// set not set in a scrape (a member that left) is removed.
/// </summary>
internal sealed class PublishedFamily
{
    private readonly Counter? _counter;
    private readonly Gauge? _gauge;
    private readonly HashSet<string> _set = new(StringComparer.Ordinal);

    public PublishedFamily(IMetricFactory metrics, string name, string help, bool counter, string[] labels)
    {
        if (counter)
            _counter = metrics.CreateCounter(name, help, labels);
        else
            _gauge = metrics.CreateGauge(name, help, labels);
    }

    public void Set(string[] labels, double value)
    {
        _set.Add(string.Join('\0', labels));
        if (_gauge is not null)
        {
            _gauge.WithLabels(labels).Set(value);
            return;
        }
        var child = _counter!.WithLabels(labels);
        if (value < child.Value)
        {
            _counter.RemoveLabelled(labels);
            child = _counter.WithLabels(labels);
        }
        child.IncTo(value);
    }

    /// <summary>Removes the label sets not set since the last call.</summary>
    public void RemoveUnset()
    {
        var all = _counter?.GetAllLabelValues() ?? _gauge!.GetAllLabelValues();
        foreach (var labels in all.ToList())
        {
            if (_set.Contains(string.Join('\0', labels)))
                continue;
            if (_counter is not null)
                _counter.RemoveLabelled(labels);
            else
                _gauge!.RemoveLabelled(labels);
        }
        _set.Clear();
    }
}
