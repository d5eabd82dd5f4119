using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Anomalies;

/// <summary>
/// One anomalous session as a point for DBSCAN. The axes, and why each is scaled as it is
/// (with the default radius of 1):
/// <list type="bullet">
/// <item>per session metric (connect, duration, RTT, retransmissions): 0 when not
/// anomalous, else 1 + ¼·log₂(σ/3), capped at 3: an anomaly at 3σ and one at 30σ of the
/// same metric are 0.8 apart (the same fault hits sessions unequally), while a session
/// anomalous in a metric another is not is a whole radius away from it;</item>
/// <item>bytes: log₁₀(bytes + 1) / 3, so a thousandfold difference is one radius;</item>
/// <item>reset: ½ if reset;</item>
/// <item>client host, server host and edge: each a one-hot block (hashed into
/// <see cref="CategorySlots"/> slots), scaled so that a different host adds 0.5 to the
/// squared distance and a different edge 0.25: sessions of one host's fault on several
/// edges still meet, and a different client host and server host together (≈ 1.0) part
/// them unless all else is the same.</item>
/// </list>
/// </summary>
public sealed class AnomalyFeatures
{
    public const int CategorySlots = 16;
    public const int Dimensions = 4 + 2 + 3 * CategorySlots;

    private static readonly double HostWeight = Math.Sqrt(0.25); // one-hot difference: 2 × w² = 0.5
    private static readonly double EdgeWeight = Math.Sqrt(0.125); // 2 × w² = 0.25

    private readonly Dictionary<string, int> _clientHosts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _serverHosts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _edges = new(StringComparer.Ordinal);

    /// <summary>Writes one session's point (its anomalies: one per anomalous metric) into <paramref name="row"/>.</summary>
    public void Fill(IReadOnlyList<AnomalyView> anomalies, Span<double> row)
    {
        row.Clear();
        var first = anomalies[0];
        foreach (var a in anomalies)
        {
            var axis = AnomalyMetrics.TryParse(a.Metric, out var metric) ? Array.IndexOf(AnomalyMetrics.OfSessions, metric) : -1;
            if (axis < 0)
                continue;
            var strength = Math.Clamp(1 + 0.25 * Math.Log2(Math.Max(a.Sigmas, 3) / 3), 1, 3);
            row[axis] = Math.Max(row[axis], strength);
        }
        row[4] = Math.Log10(first.Bytes + 1.0) / 3;
        row[5] = first.Reset ? 0.5 : 0;
        row[6 + Slot(_clientHosts, first.ClientHost)] = HostWeight;
        row[6 + CategorySlots + Slot(_serverHosts, first.ServerHost)] = HostWeight;
        row[6 + 2 * CategorySlots + Slot(_edges, first.Edge)] = EdgeWeight;
    }

    /// <summary>The first values seen get slots of their own; past the slots, values share them (by hash): close, never wrong by more than a category.</summary>
    private static int Slot(Dictionary<string, int> slots, string value)
    {
        if (slots.TryGetValue(value, out var slot))
            return slot;
        slot = slots.Count < CategorySlots ? slots.Count : (int)((uint)StringComparer.Ordinal.GetHashCode(value) % CategorySlots);
        if (slots.Count < CategorySlots)
            slots[value] = slot;
        return slot;
    }
}
