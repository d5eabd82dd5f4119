using System.Collections.Concurrent;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// Bounds the edges an Aggregator keeps series for (tag survival and latency, in memory
/// and in Redis): the first <c>max</c> distinct edges it settles sessions on keep their
/// names; a session on any edge after that is counted under <see cref="Other"/>, and
/// counted as folded. Without it every client process × server address:port is an edge
/// for good, so a port scan makes thousands. An edge once admitted stays admitted until
/// the Aggregator restarts.
/// </summary>
public sealed class EdgeCap(int max)
{
    /// <summary>Where the sessions of edges past the cap are counted.</summary>
    public const string Other = "other>other";

    private readonly ConcurrentDictionary<string, byte> _admitted = new(StringComparer.Ordinal);
    private long _folded;

    /// <summary>Sessions counted under <see cref="Other"/> because their edge came past the cap.</summary>
    public long Folded => Interlocked.Read(ref _folded);

    public int Admitted => _admitted.Count;

    /// <summary>The edge to count a session under: its own, or <see cref="Other"/>.</summary>
    public string Admit(string edge)
    {
        if (_admitted.ContainsKey(edge))
            return edge;
        // Two shards may race for the last place; one more edge than the cap at worst.
        if (_admitted.Count < max && _admitted.TryAdd(edge, 0) || _admitted.ContainsKey(edge))
            return edge;
        Interlocked.Increment(ref _folded);
        return Other;
    }

    /// <summary>The edge a session was counted under before, without counting it again.</summary>
    public string Known(string edge) => _admitted.ContainsKey(edge) ? edge : Other;
}
