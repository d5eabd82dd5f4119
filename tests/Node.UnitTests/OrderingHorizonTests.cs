using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.UnitTests;

/// <summary>The watermark over the per-CPU rings, with a clock the test moves.</summary>
public sealed class OrderingHorizonTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(1);
    private const long Ms = 1_000_000;

    private long _now = 10_000 * Ms;

    private OrderingHorizon Horizon(int cpus) => new(cpus, Bound, () => _now);

    [Fact]
    public void Idle_CPUs_move_the_horizon_with_the_clock()
    {
        var horizon = Horizon(4);
        Assert.Equal(0, horizon.Current); // nothing read yet: nothing may be acted on
        for (var step = 0; step < 3; step++)
        {
            _now += 2 * Ms;
            for (var cpu = 0; cpu < 4; cpu++)
                horizon.Drained(cpu, _now); // an empty ring at every poll
            Assert.Equal(_now, horizon.Current);
            Assert.Equal(_now, horizon.Effective(out var trueNs));
            Assert.Equal(_now, trueNs);
        }
    }

    [Fact]
    public void The_CPU_furthest_behind_sets_the_horizon()
    {
        var horizon = Horizon(3);
        horizon.Drained(0, _now);
        horizon.Drained(1, _now - 500 * Ms); // far behind, but within the bound
        horizon.Drained(2, _now - 1 * Ms);
        Assert.Equal(_now - 500 * Ms, horizon.Current);
        Assert.Equal(_now - 500 * Ms, horizon.Effective(out var trueNs));
        Assert.Equal(_now - 500 * Ms, trueNs);

        horizon.Drained(1, _now);
        Assert.Equal(_now - 1 * Ms, horizon.Current);
    }

    [Fact]
    public void A_batch_not_yet_routed_holds_its_CPU_back_until_it_is()
    {
        var horizon = Horizon(1);
        var advanced = 0;
        horizon.Advanced = () => advanced++;
        horizon.Drained(0, 100 * Ms);
        Assert.Equal((100 * Ms, 1), (horizon.Current, advanced));

        // The reader hands a batch over, then finds its ring empty: the batch's records are
        // not in their flows' mailboxes yet, so the time it read to must wait for them.
        horizon.BatchHandedOver(0);
        horizon.Drained(0, 200 * Ms);
        Assert.Equal((100 * Ms, 1), (horizon.Current, advanced));

        horizon.BatchRouted(0);
        Assert.Equal((200 * Ms, 2), (horizon.Current, advanced));
    }

    [Fact]
    public void A_time_never_moves_back()
    {
        var horizon = Horizon(1);
        horizon.Drained(0, 300 * Ms);
        horizon.Drained(0, 200 * Ms); // a late call from an older pass
        Assert.Equal(300 * Ms, horizon.Current);
    }

    [Fact]
    public void A_stalled_reader_holds_the_horizon_only_for_the_bound()
    {
        var horizon = Horizon(2);
        horizon.Drained(0, _now);
        horizon.Drained(1, _now); // then CPU 1's reader stalls
        var stalledAt = _now;
        for (var step = 0; step < 10; step++)
        {
            _now += 250 * Ms;
            horizon.Drained(0, _now);
        }

        // 2.5 s later: the true horizon is still where CPU 1 stopped; what is acted on is
        // the clock less the bound, and the difference tells what was released without it.
        Assert.Equal(stalledAt, horizon.Current);
        var effective = horizon.Effective(out var trueNs);
        Assert.Equal(_now - (long)Bound.TotalMilliseconds * Ms, effective);
        Assert.Equal(stalledAt, trueNs);
        Assert.True(effective > trueNs);

        horizon.Drained(1, _now); // the reader comes back
        Assert.Equal(_now, horizon.Effective(out trueNs));
        Assert.Equal(_now, trueNs);
    }
}
