using FlowMesh.Contracts.Cluster;

namespace FlowMesh.Aggregator.Hosting;

/// <summary>
/// The Aggregator's figures: each row of <see cref="AggregatorCounterTable"/> with the
/// reader of its current value. The status hash in Redis, the gateway's <c>/metrics</c>
/// and the loss warnings all read it, so a figure is named and explained once.
/// </summary>
internal sealed class AggregatorFigures
{
    private readonly (CounterSpec Spec, Func<long> Read)[] _figures;

    /// <summary>Throws when a row of the table has no reader or a reader no row: a figure nobody can see, or one nobody explained.</summary>
    public AggregatorFigures(IReadOnlyDictionary<string, Func<long>> readers)
    {
        var missing = AggregatorCounterTable.All.Where(s => !readers.ContainsKey(s.Name)).Select(s => s.Name).ToList();
        var extra = readers.Keys.Where(n => AggregatorCounterTable.All.All(s => s.Name != n)).ToList();
        if (missing.Count > 0 || extra.Count > 0)
            throw new InvalidOperationException($"the Aggregator's figures and its counter table disagree: no reader for [{string.Join(", ", missing)}], no row for [{string.Join(", ", extra)}]");
        _figures = [.. AggregatorCounterTable.All.Select(s => (s, readers[s.Name]))];
    }

    public IReadOnlyList<(CounterSpec Spec, long Value)> Read() => [.. _figures.Select(f => (f.Spec, f.Read()))];
}
