using k8s;
using k8s.Models;

namespace FlowMesh.Kubernetes;

/// <summary>
/// Which pod held an address when: every pod address the cluster-wide watch sees, as a run
/// of tenancies (from, to). A flow is named by the pod that held its address when the flow
/// began, so after an address moves to a new pod, yesterday's flow never gets today's owner.
/// Host-network pods share their node's address with everything else on it and are left
/// out: those are named by the server's own host, from its cgroup. A closed tenancy is kept
/// for <see cref="KubernetesSettings.History"/>; at most <see cref="KubernetesSettings.MaxPods"/>
/// tenancies are kept, the oldest closed ones going first (counted in <see cref="Shed"/>).
/// </summary>
public sealed class PodAddressHistory(KubernetesSettings settings, TimeProvider clock) : IWatchSink<V1Pod>
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<Tenancy>> _byAddress = new(StringComparer.Ordinal);

    /// <summary>The open tenancies by pod UID, so a pod that goes closes its own without a walk of the table.</summary>
    private readonly Dictionary<string, List<Tenancy>> _openByUid = new(StringComparer.Ordinal);
    private int _count;
    private long _nextPruneMs;
    private long _shed;

    /// <summary>A pod holding an address from <see cref="FromMs"/> until <see cref="ToMs"/> (null: still holds it).</summary>
    public sealed class Tenancy(PodInfo pod, long fromMs)
    {
        public PodInfo Pod { get; set; } = pod;

        public long FromMs { get; } = fromMs;

        public long? ToMs { get; set; }
    }

    /// <summary>Tenancies forgotten before their time, or never kept: the history was full.</summary>
    public long Shed => Interlocked.Read(ref _shed);

    public int Count
    {
        get
        {
            lock (_lock)
                return _count;
        }
    }

    /// <summary>The pod that held <paramref name="address"/> at <paramref name="unixMs"/>, if the history knows.</summary>
    public PodInfo? At(string address, long unixMs)
    {
        lock (_lock)
        {
            if (!_byAddress.TryGetValue(address, out var tenancies))
                return null;
            for (var i = tenancies.Count - 1; i >= 0; i--)
            {
                var t = tenancies[i];
                if (t.FromMs <= unixMs && (t.ToMs is not { } to || unixMs < to))
                    return t.Pod;
            }
            return null;
        }
    }

    public void Replace(IReadOnlyList<V1Pod> items)
    {
        var now = NowMs;
        var listed = items.Select(PodInfo.From).OfType<PodInfo>().ToList();
        var uids = listed.Select(p => p.Uid).ToHashSet(StringComparer.Ordinal);
        lock (_lock)
        {
            // Pods gone while the watch was down left their addresses by now.
            foreach (var gone in _openByUid.Keys.Where(uid => !uids.Contains(uid)).ToList())
                Release(gone, now);
            foreach (var pod in listed)
                Observe(pod, now);
            Prune(now);
        }
    }

    public void Apply(WatchEventType type, V1Pod item)
    {
        if (PodInfo.From(item) is not { } pod)
            return;
        var now = NowMs;
        lock (_lock)
        {
            if (type == WatchEventType.Deleted)
                Release(pod.Uid, now);
            else if (type is WatchEventType.Added or WatchEventType.Modified)
                Observe(pod, now);
            Prune(now);
        }
    }

    private long NowMs => clock.GetUtcNow().ToUnixTimeMilliseconds();

    private void Observe(PodInfo pod, long now)
    {
        if (pod.Finished || pod.HostNetwork)
        {
            Release(pod.Uid, now);
            return;
        }
        foreach (var address in pod.Addresses)
        {
            if (!_byAddress.TryGetValue(address, out var tenancies))
                _byAddress[address] = tenancies = [];
            if (tenancies.Count > 0 && tenancies[^1] is { ToMs: null } open && open.Pod.Uid == pod.Uid)
            {
                open.Pod = pod; // labels or phase changed; same tenancy
                continue;
            }
            // The address came to this pod after the one before let it go: never before that,
            // even though the new pod's startTime (when its kubelet took it) may be earlier.
            var from = pod.Started?.ToUnixTimeMilliseconds() ?? now;
            if (tenancies.Count > 0)
            {
                var last = tenancies[^1];
                if (last.ToMs is null)
                {
                    // Its pod never said it left (a missed event): it did when this one came.
                    last.ToMs = Math.Max(from, last.FromMs);
                    if (_openByUid.TryGetValue(last.Pod.Uid, out var stillHeld))
                        stillHeld.Remove(last);
                }
                from = Math.Max(from, last.ToMs.Value);
            }
            if (_count >= settings.MaxPods && !DropOldestClosed())
            {
                Interlocked.Increment(ref _shed);
                continue;
            }
            var tenancy = new Tenancy(pod, from);
            tenancies.Add(tenancy);
            if (!_openByUid.TryGetValue(pod.Uid, out var held))
                _openByUid[pod.Uid] = held = [];
            held.Add(tenancy);
            _count++;
        }
    }

    private void Release(string uid, long now)
    {
        if (!_openByUid.Remove(uid, out var held))
            return;
        foreach (var t in held)
            t.ToMs ??= now;
    }

    /// <summary>Forgets tenancies that ended longer than the history ago; a walk of the table, so at most every 10 s.</summary>
    private void Prune(long now)
    {
        if (now < _nextPruneMs)
            return;
        _nextPruneMs = now + 10_000;
        var expired = now - (long)settings.History.TotalMilliseconds;
        foreach (var (address, tenancies) in _byAddress.ToList())
        {
            _count -= tenancies.RemoveAll(t => t.ToMs < expired);
            if (tenancies.Count == 0)
                _byAddress.Remove(address);
        }
    }

    /// <summary>Makes room in a full table: the tenancy that ended first goes (counted); false if every one is open.</summary>
    private bool DropOldestClosed()
    {
        var oldest = _byAddress.SelectMany(e => e.Value.Where(t => t.ToMs is not null).Select(t => (e.Key, t))).MinBy(p => p.t.ToMs);
        if (oldest.t is null)
            return false;
        _byAddress[oldest.Key].Remove(oldest.t);
        _count--;
        Interlocked.Increment(ref _shed);
        return true;
    }
}
