using FlowMesh.Cluster.Placement;
using Proto;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// The Aggregator's session shards (one per core), by hash of the session key, and the
/// one timer that sweeps them all (<see cref="SweepSessions"/>): one timer per
/// Aggregator, not one per session.
/// </summary>
internal sealed class SessionShards : IAsyncDisposable
{
    private readonly PID[] _shards;
    private readonly ShardTicker _ticker;

    public SessionShards(IRootContext root, SessionServices services, int count)
    {
        Edges = services.Edges;
        _shards = new PID[count];
        for (var i = 0; i < count; i++)
            _shards[i] = root.SpawnNamed(Props.FromProducer(() => new SessionShard(services)).WithKeepStateOnFailure(services.Counters), $"session-shard-{i}");
        _ticker = new ShardTicker(root, _shards, SweepSessions.Instance, SessionShard.SweepInterval);
    }

    public int Count => _shards.Length;

    /// <summary>The edges the shards keep series for.</summary>
    public EdgeCap Edges { get; }

    public int IndexOf(string key) => (int)((uint)key.GetHashCode() % (uint)_shards.Length);

    public PID Of(string key) => _shards[IndexOf(key)];

    public PID At(int index) => _shards[index];

    /// <summary>Tells every shard.</summary>
    public void Broadcast(IRootContext root, object message)
    {
        foreach (var shard in _shards)
            root.Send(shard, message);
    }

    public ValueTask DisposeAsync() => _ticker.DisposeAsync();
}
