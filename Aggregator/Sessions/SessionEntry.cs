using FlowMesh.Contracts.Messages;
using FlowMesh.Kubernetes;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// One connection seen across the fleet, as its shard holds it: the flows reported under
/// its key, its id, its latest settled view, and the one deadline it waits for (what a
/// resident actor's receive timeout was: idle, join window or linger).
/// </summary>
internal sealed class SessionEntry(string key)
{
    public string Key { get; } = key;

    /// <summary>One per (host, cookie); two for almost every session, so a list searched linearly beats a dictionary.</summary>
    public List<FlowView> Flows { get; } = new(2);

    /// <summary>Fixed by the first view: a tuple session's id must not move when a side with an earlier start arrives.</summary>
    public string? Id { get; set; }

    public SessionView? Settled { get; set; }

    public bool WaitingForPeer { get; set; }

    /// <summary>A tuple-alias lookup is under way: the deadline does not fire again meanwhile.</summary>
    public bool LookingForPeer { get; set; }

    /// <summary>Looks for a peer by tuple that found none yet (see <c>SessionShard.JoinPeerByTuple</c>).</summary>
    public int TupleLookups { get; set; }

    /// <summary>The deadline its one counted place in the shard's queue is at (long.MaxValue: none).</summary>
    public long TrackedMs { get; set; }

    /// <summary>Environment.TickCount64 at which <see cref="TimeoutMs"/> runs out.</summary>
    public long DeadlineMs { get; set; }

    /// <summary>The current timeout; like a receive timeout, it starts again with every flow that arrives.</summary>
    public long TimeoutMs { get; set; }

    /// <summary>A Node sent one of its sides again, and this shard has not settled it: it may be stored already (see the shard's ReadStoredFirst).</summary>
    public bool Resent { get; set; }

    /// <summary>The stored session is being read; what arrives meanwhile waits for it.</summary>
    public bool ReadingStored { get; set; }

    /// <summary>Hosts whose Node left the cluster while this session's flow there was open (see <see cref="HostLost"/>).</summary>
    public SortedSet<string>? LostHosts { get; set; }

    /// <summary>Left the shard: entries still queued for a deadline are skipped.</summary>
    public bool Removed { get; set; }

    /// <summary>Takes a flow's latest view; false (and left out) when it is a new flow and the session holds <paramref name="max"/> already.</summary>
    public bool Put(FlowView flow, int max)
    {
        for (var i = 0; i < Flows.Count; i++)
        {
            if (Flows[i].Cookie == flow.Cookie && Flows[i].HostId == flow.HostId)
            {
                Flows[i] = flow;
                return true;
            }
        }
        if (Flows.Count >= max)
            return false;
        Flows.Add(flow);
        return true;
    }

    public SessionView Build(IAddressOwners? owners)
    {
        var view = SessionJoin.Build(Key, Flows, Id, owners);
        Id = view.Id;
        if (LostHosts is { Count: > 0 } lost)
        {
            // A side on a lost host will never close: the session ends with the sides still watched.
            view.LostHosts.AddRange(lost);
            view.Complete = false;
            view.Closed = Ended(view.Client) && Ended(view.Server);
        }
        return view;

        bool Ended(SessionSide? side) => side is null || side.Closed || LostHosts.Contains(side.HostId);
    }

    /// <summary>Marks the session's open flows on a host that left; false if it has none there.</summary>
    public bool LoseHost(string hostId)
    {
        if (!Flows.Any(f => f.HostId == hostId && !f.Closed))
            return false;
        return (LostHosts ??= new SortedSet<string>(StringComparer.Ordinal)).Add(hostId);
    }
}
