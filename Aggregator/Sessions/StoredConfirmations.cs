using FlowMesh.Cluster;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Proto;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// Tells each Node which of its closed flows are now in a stored session
/// (<see cref="FlowsStored"/>, to its hand-off actor), so it can forget them: until then
/// the Node keeps them to send again should this Aggregator die. Gathered per host and
/// sent every <see cref="Interval"/>; a confirmation that is lost only costs a resend,
/// which the shard recognises as already stored.
/// </summary>
public sealed class StoredConfirmations : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);
    private readonly ClusterMember _member;
    private readonly Lock _lock = new();
    private Dictionary<string, FlowsStored> _pending = new(StringComparer.Ordinal);
    private readonly PeriodicLoop _loop;

    public StoredConfirmations(ClusterMember member)
    {
        _member = member;
        // The confirmations gathered when the Aggregator stops are sent too.
        _loop = new PeriodicLoop(Interval, Send, tickAtStop: true);
    }

    /// <summary>The closed sides of a stored session.</summary>
    public void Stored(SessionView session)
    {
        lock (_lock)
        {
            Add(session.Client);
            Add(session.Server);
        }
    }

    /// <summary>A closed flow a shard refused: nothing more will be stored for it, and a resend would be refused again.</summary>
    public void Refused(FlowView flow)
    {
        if (!flow.Closed)
            return;
        lock (_lock)
            Add(flow.HostId, flow.Cookie);
    }

    private void Add(SessionSide? side)
    {
        if (side is { Closed: true })
            Add(side.HostId, side.Cookie);
    }

    private void Add(string hostId, ulong cookie)
    {
        if (!_pending.TryGetValue(hostId, out var message))
            _pending[hostId] = message = new FlowsStored();
        message.Cookies.Add(cookie);
    }

    private void Send()
    {
        Dictionary<string, FlowsStored> batch;
        lock (_lock)
        {
            if (_pending.Count == 0)
                return;
            batch = _pending;
            _pending = new(StringComparer.Ordinal);
        }
        var registrations = _member.Provider.Registrations;
        foreach (var (host, message) in batch)
        {
            // The newest Node of that host (a restart can overlap its old self); none: it is gone, and its flows with it.
            MemberRegistration? node = null;
            foreach (var r in registrations.Values)
            {
                if (r.Role == ClusterKinds.NodeRole && r.HostId == host && (node is null || r.StartedUnixMs > node.StartedUnixMs))
                    node = r;
            }
            if (node is not null)
                _member.System.Root.Send(PID.FromAddress($"{node.Host}:{node.Port}", ClusterKinds.HandOffActor), message);
        }
    }

    // Stopping disposes it, and the container again.
    public ValueTask DisposeAsync() => _loop.DisposeAsync();
}
