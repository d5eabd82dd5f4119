using FlowMesh.Node.Kernel;
using Proto;

namespace FlowMesh.Node.Actors;

/// <summary>
/// Tells the flow shards holding events that the <see cref="OrderingHorizon"/> has moved,
/// so they apply, in kernel order, every event stamped before it. A shard registers once
/// when it holds events (<see cref="Await"/>); each time the horizon advances, every
/// registered shard gets one <see cref="HorizonReached"/> and registers again if it still
/// holds later ones.
///
/// The message is sent after the horizon was read, so it queues behind every event
/// stamped before it: the shard has them all when it gets it. A timer also moves the
/// horizon on when a stalled CPU has held it for longer than its bound.
/// </summary>
internal sealed class HorizonDispatcher : IAsyncDisposable
{
    private readonly OrderingHorizon _horizon;
    private readonly IRootContext _root;
    private readonly Lock _gate = new();
    private List<HorizonWaiter> _waiting = [];
    private List<HorizonWaiter> _sending = [];
    private long _lastSentNs;
    private int _dispatching;
    private int _again;
    private long _outstanding;
    private bool _releaseAll;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _boundTimer;

    public HorizonDispatcher(OrderingHorizon horizon, IRootContext root)
    {
        _horizon = horizon;
        _root = root;
        horizon.Advanced = Dispatch;
        _boundTimer = Task.Run(EnforceBoundAsync);
    }

    /// <summary>Messages sent and not yet handled by their shard.</summary>
    public long Outstanding => Interlocked.Read(ref _outstanding);

    /// <summary>A shard holds events the horizon has not passed: tell it when it moves.</summary>
    public void Await(HorizonWaiter waiter)
    {
        if (!waiter.TryMarkAwaiting())
            return;
        lock (_gate)
            _waiting.Add(waiter);
        _horizon.Wanted?.Invoke();
    }

    /// <summary>Called by a shard as it handles a <see cref="HorizonReached"/>.</summary>
    public void Handled() => Interlocked.Decrement(ref _outstanding);

    /// <summary>Sends every waiting shard the horizon, if it moved since the last time. Safe from any thread; one sends at a time.</summary>
    public void Dispatch()
    {
        Volatile.Write(ref _again, 1);
        // Whoever holds the flag sends; a call that finds it taken leaves _again set so
        // the holder goes round once more and a move is never missed.
        while (Volatile.Read(ref _again) == 1 && Interlocked.CompareExchange(ref _dispatching, 1, 0) == 0)
        {
            try
            {
                Interlocked.Exchange(ref _again, 0);
                SendRound();
            }
            finally
            {
                // A full fence: the loop's next read of _again must not move before this release.
                Interlocked.Exchange(ref _dispatching, 0);
            }
        }
    }

    /// <summary>Releases everything held from now on, whatever the horizon says (the capture has stopped and every ring is drained).</summary>
    public void ReleaseAll()
    {
        Volatile.Write(ref _releaseAll, true);
        Dispatch();
    }

    private void SendRound()
    {
        var trueNs = long.MaxValue;
        var ns = Volatile.Read(ref _releaseAll) ? long.MaxValue : _horizon.Effective(out trueNs);
        if (ns <= _lastSentNs && ns != long.MaxValue)
            return;
        _lastSentNs = ns;
        lock (_gate)
            (_waiting, _sending) = (_sending, _waiting);
        if (_sending.Count == 0)
            return;
        var reached = new HorizonReached(ns, trueNs);
        Interlocked.Add(ref _outstanding, _sending.Count);
        foreach (var waiter in _sending)
        {
            waiter.ClearAwaiting();
            _root.Send(waiter.Pid, reached);
        }
        _sending.Clear();
    }

    /// <summary>Moves the horizon on past a stalled CPU (nothing else calls Dispatch while no CPU advances).</summary>
    private async Task EnforceBoundAsync()
    {
        var period = TimeSpan.FromMilliseconds(Math.Clamp(_horizon.MaxWait.TotalMilliseconds / 4, 10, 250));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                Dispatch();
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Waits (bounded) until every shard told has handled it.</summary>
    public async Task WaitHandledAsync(TimeSpan limit)
    {
        var deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
        while (Outstanding > 0 && Environment.TickCount64 < deadline)
            await Task.Delay(5).ConfigureAwait(false);
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        _horizon.Advanced = null;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _boundTimer.ConfigureAwait(false);
        _stop.Dispose();
    }
}

/// <summary>
/// Every event stamped before <see cref="Ns"/> has reached the shard: apply them, in kernel
/// order. Events from <see cref="TrueNs"/> on are released only because a stalled CPU held
/// the horizon past its bound, without the guarantee (counted).
/// </summary>
internal sealed class HorizonReached(long ns, long trueNs)
{
    public long Ns { get; } = ns;
    public long TrueNs { get; } = trueNs;
}
