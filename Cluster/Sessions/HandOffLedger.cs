using FlowMesh.Contracts.Messages;

namespace FlowMesh.Cluster.Sessions;

/// <summary>
/// The closed flows a Node handed over whose sessions no Aggregator has yet confirmed
/// stored: what an Aggregator that dies takes with it, so what the Node sends again.
/// One entry per flow (cookie: a Node hands over only its own host's flows); a later
/// view of the same flow replaces the earlier. Bounded: a flow that finds it full is
/// still handed over, only not kept for a resend (the caller counts it).
/// </summary>
internal sealed class HandOffLedger(int capacity)
{
    private sealed class Entry(FlowView view, string memberId, long sentMs, int attempt)
    {
        public FlowView View { get; } = view;
        public string MemberId { get; } = memberId;
        public long SentMs { get; } = sentMs;
        public int Attempt { get; } = attempt;
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, Entry> _entries = [];

    public int Count
    {
        get
        {
            lock (_lock)
                return _entries.Count;
        }
    }

    /// <summary>Keeps views as sent to their members (one lock for a whole batch); returns those that did not fit, or null.</summary>
    public HashSet<FlowView>? Track(List<(FlowView View, string MemberId, int Attempt)> sent, long nowMs)
    {
        HashSet<FlowView>? untracked = null;
        lock (_lock)
        {
            foreach (var (view, memberId, attempt) in sent)
            {
                if (_entries.Count >= capacity && !_entries.ContainsKey(view.Cookie))
                    (untracked ??= new HashSet<FlowView>(ReferenceEqualityComparer.Instance)).Add(view);
                else
                    _entries[view.Cookie] = new Entry(view, memberId, nowMs, attempt);
            }
        }
        return untracked;
    }

    public void Confirm(IEnumerable<ulong> cookies)
    {
        lock (_lock)
        {
            foreach (var cookie in cookies)
                _entries.Remove(cookie);
        }
    }

    /// <summary>
    /// Takes out the views to send again: those sent to a member that is gone (or failed a
    /// delivery), and those unconfirmed since before <paramref name="sentBeforeMs"/>.
    /// </summary>
    public List<(FlowView View, int Attempt)> TakeForResend(Func<string, bool> memberGone, long sentBeforeMs)
    {
        var taken = new List<(FlowView, int)>();
        lock (_lock)
        {
            List<ulong>? remove = null;
            foreach (var (cookie, e) in _entries)
            {
                if (e.SentMs < sentBeforeMs || memberGone(e.MemberId))
                {
                    taken.Add((e.View, e.Attempt));
                    (remove ??= []).Add(cookie);
                }
            }
            if (remove is not null)
            {
                foreach (var cookie in remove)
                    _entries.Remove(cookie);
            }
        }
        return taken;
    }
}
