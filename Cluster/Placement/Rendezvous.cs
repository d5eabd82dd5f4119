using Proto.Cluster;

namespace FlowMesh.Cluster.Placement;

/// <summary>
/// Rendezvous (highest random weight) hashing: every process that sees the same
/// members picks the same one for an identity, and a member leaving moves only the
/// identities it had.
/// </summary>
internal static class Rendezvous
{
    public static Member Choose(IReadOnlyList<Member> members, string identity)
    {
        var best = members[0];
        var bestWeight = Weight(best.Id, identity);
        for (var i = 1; i < members.Count; i++)
        {
            var w = Weight(members[i].Id, identity);
            if (w > bestWeight || (w == bestWeight && string.CompareOrdinal(members[i].Id, best.Id) > 0))
                (best, bestWeight) = (members[i], w);
        }
        return best;
    }

    /// <summary>FNV-1a over member id and identity, then a 64-bit finalizer (stable across processes, unlike string.GetHashCode).</summary>
    internal static ulong Weight(string memberId, string identity)
    {
        var h = 14695981039346656037UL;
        foreach (var c in memberId)
            h = (h ^ c) * 1099511628211UL;
        h = (h ^ 0xFF) * 1099511628211UL;
        foreach (var c in identity)
            h = (h ^ c) * 1099511628211UL;
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        return h;
    }
}
