using FlowMesh.Contracts.Messages;

namespace FlowMesh.Cluster.Membership;

/// <summary>
/// Who is in the cluster, as this process believes, built from what it reads in Redis.
///
/// Proto.Cluster blocks a member for good once a topology update leaves it out, so
/// this view removes a member only when that is certain: it left and said so, or
/// its lease ran out on this process's own clock. A member whose entry merely
/// vanished (Redis restarted empty) stays until its last known lease ends, which
/// gives it time to register again; while Redis cannot be read nobody expires,
/// and after an outage every lease is extended by one full lease before the
/// rules apply again. An outage is a failed read, or simply a long gap since the
/// last successful one: a read queued by the Redis client during an outage can
/// succeed, against an empty Redis, without any read having failed first.
///
/// A member this view has removed never comes back under the same id: Proto.Cluster has
/// blocked that id (for an hour), and a member frozen past its lease that resumed and
/// renewed would otherwise be let back in, talked to, refused as blocked, and every
/// member that talked to it would block itself (measured: a 20 s SIGSTOP of one Node took
/// both out of the cluster). Such a member must start again as a new one.
///
/// Pure logic, no I/O: times are this process's monotonic milliseconds.
/// </summary>
public sealed class MembershipView(TimeSpan leaseDuration)
{
    /// <summary>How long a removed id is kept out: as long as Proto.Remote keeps it blocked.</summary>
    private const long GoneMemoryMs = 60 * 60 * 1000;

    /// <summary>Removed ids remembered at most (the oldest are forgotten first).</summary>
    private const int MaxGone = 10_000;

    private readonly Dictionary<string, Entry> _members = [];
    private readonly Dictionary<string, long> _gone = [];
    private readonly long _leaseMs = (long)leaseDuration.TotalMilliseconds;
    private bool _outage;
    private long? _lastReadMs;

    private sealed class Entry(MemberRegistration registration, long deadlineMs)
    {
        public MemberRegistration Registration { get; set; } = registration;
        public long DeadlineMs { get; set; } = deadlineMs;
    }

    /// <summary>Members currently believed alive, by member id.</summary>
    public IReadOnlyCollection<MemberRegistration> Members => _members.Values.Select(e => e.Registration).ToList();

    public bool Contains(string memberId) => _members.ContainsKey(memberId);

    /// <summary>
    /// Applies one successful read of Redis: live leases with the time each has left
    /// (by Redis's clock, so clocks of the machines never need to agree), and the ids
    /// that left gracefully.
    /// </summary>
    public void ApplyRead(long nowMs, IEnumerable<(MemberRegistration Registration, long RemainingMs)> leases, IEnumerable<string> departed)
    {
        // Healthy reads come every poll interval; half a lease without one means Redis (or
        // this process) was away, and leases could not be renewed or seen meanwhile.
        if (_outage || (_lastReadMs is { } last && nowMs - last > _leaseMs / 2))
        {
            // Give everyone one full lease from now to renew before anyone can expire.
            foreach (var e in _members.Values)
                e.DeadlineMs = Math.Max(e.DeadlineMs, nowMs + _leaseMs);
            _outage = false;
        }
        _lastReadMs = nowMs;

        ForgetOldGone(nowMs);
        foreach (var (registration, remaining) in leases)
        {
            if (_gone.ContainsKey(registration.MemberId))
                continue; // removed once: it may renew, but it is not let back in
            var deadline = nowMs + remaining;
            if (_members.TryGetValue(registration.MemberId, out var known))
            {
                known.Registration = registration;
                known.DeadlineMs = Math.Max(known.DeadlineMs, deadline);
            }
            else
            {
                _members[registration.MemberId] = new Entry(registration, deadline);
            }
        }

        foreach (var id in departed)
            Remove(id, nowMs);

        Expire(nowMs);
    }

    /// <summary>Whether this view removed the member (it left, or its lease ran out) and keeps it out.</summary>
    public bool IsGone(string memberId) => _gone.ContainsKey(memberId);

    /// <summary>A read failed: nothing can be learned, so nobody expires until a read succeeds.</summary>
    public void ReadFailed() => _outage = true;

    /// <summary>A member announced it is leaving: remove it now.</summary>
    public bool Depart(string memberId, long nowMs) => Remove(memberId, nowMs);

    private bool Remove(string memberId, long nowMs)
    {
        _gone[memberId] = nowMs;
        if (_gone.Count > MaxGone)
            _gone.Remove(_gone.MinBy(g => g.Value).Key);
        return _members.Remove(memberId);
    }

    private void ForgetOldGone(long nowMs)
    {
        if (_gone.Count == 0)
            return;
        foreach (var id in _gone.Where(g => nowMs - g.Value > GoneMemoryMs).Select(g => g.Key).ToList())
            _gone.Remove(id);
    }

    private void Expire(long nowMs)
    {
        List<string>? expired = null;
        foreach (var (id, e) in _members)
        {
            if (e.DeadlineMs <= nowMs)
                (expired ??= []).Add(id);
        }
        if (expired is not null)
        {
            foreach (var id in expired)
                Remove(id, nowMs);
        }
    }
}
