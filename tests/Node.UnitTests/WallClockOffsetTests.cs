using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.UnitTests;

public sealed class WallClockOffsetTests
{
    [Fact]
    public void A_step_of_the_wall_clock_is_taken_within_a_second()
    {
        long offset = 1_000, now = 0;
        var clock = new WallClockOffset(() => offset, () => now);
        Assert.Equal(1_000, clock.RealtimeMinusMonotonicNs);
        offset = 5_000_000_000; // NTP stepped the wall clock 5 s ahead
        now = 500;
        Assert.Equal(1_000, clock.RealtimeMinusMonotonicNs);
        now = 1_000;
        Assert.Equal(5_000_000_000, clock.RealtimeMinusMonotonicNs);
    }

    [Fact]
    public void The_real_offset_is_the_wall_clock_minus_the_monotonic_one()
    {
        var clock = new WallClockOffset();
        var wallMs = (clock.RealtimeMinusMonotonicNs + MonotonicClock.NowNs()) / 1_000_000;
        Assert.InRange(wallMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 1000, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1000);
    }
}
