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
    private readonly IRootContext _root;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sweeping;

    public SessionShards(IRootContext root, SessionServices services, int count)
    {
        _root = root;
        _shards = new PID[count];
        for (var i = 0; i < count; i++)
            _shards[i] = root.SpawnNamed(Props.FromProducer(() => new SessionShard(services)).WithKeepStateOnFailure(services.Counters), $"session-shard-{i}");
        _sweeping = Task.Run(SweepAsync);
    }

    public int Count => _shards.Length;

    public int IndexOf(string key) => (int)((uint)key.GetHashCode() % (uint)_shards.Length);

    public PID Of(string key) => _shards[IndexOf(key)];

    public PID At(int index) => _shards[index];

    private async Task SweepAsync()
    {
        using var timer = new PeriodicTimer(SessionShard.SweepInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                foreach (var shard in _shards)
                    _root.Send(shard, SweepSessions.Instance);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _sweeping.ConfigureAwait(false);
        _stop.Dispose();
    }
}
