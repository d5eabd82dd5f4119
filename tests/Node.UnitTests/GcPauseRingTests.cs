using FlowMesh.Node.Runtime.Dotnet;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace FlowMesh.Node.UnitTests;

/// <summary>The bounded ring of one process's pauses: what is kept, what is shed, what a query finds.</summary>
public sealed class GcPauseRingTests
{
    private static GcPause Pause(ulong start, ulong end, int? generation = 0) =>
        new(start, end, GCSuspendEEReason.SuspendForGC, generation, GCReason.AllocSmall);

    [Fact]
    public void Keeps_the_last_N_and_counts_the_rest_as_shed()
    {
        var ring = new GcPauseRing(4);
        for (ulong i = 0; i < 10; i++)
            ring.Add(Pause(i * 100, i * 100 + 10));

        Assert.Equal(10, ring.Added);
        Assert.Equal(6, ring.Shed);
        Assert.Equal(4, ring.Count);
        Assert.Equal(Pause(600, 610), ring.Oldest());
        // Only the last four remain, oldest first.
        Assert.Equal([Pause(600, 610), Pause(700, 710), Pause(800, 810), Pause(900, 910)], ring.Between(0, ulong.MaxValue));
        Assert.Empty(ring.Between(0, 600)); // shed, not found
    }

    [Fact]
    public void Until_full_nothing_is_shed()
    {
        var ring = new GcPauseRing(3);
        Assert.Null(ring.Oldest());
        Assert.Empty(ring.Between(0, ulong.MaxValue));
        ring.Add(Pause(10, 20));
        ring.Add(Pause(30, 40));
        Assert.Equal(0, ring.Shed);
        Assert.Equal(2, ring.Count);
        Assert.Equal(Pause(10, 20), ring.Oldest());
    }

    [Fact]
    public void An_interval_finds_the_pauses_it_shares_time_with_and_no_other()
    {
        var ring = new GcPauseRing(16);
        ring.Add(Pause(100, 200));
        ring.Add(Pause(300, 400));
        ring.Add(Pause(500, 600));

        Assert.Equal([Pause(300, 400)], ring.Between(250, 450));     // wholly inside
        Assert.Equal([Pause(100, 200), Pause(300, 400)], ring.Between(150, 350)); // cut at both ends
        Assert.Empty(ring.Between(200, 300));                         // touching ends share no time
        Assert.Empty(ring.Between(610, 700));
        Assert.Empty(ring.Between(350, 350));                         // an empty interval
        Assert.Equal([Pause(300, 400)], ring.Between(310, 320));      // inside one pause
    }

    [Fact]
    public void The_overlap_sums_each_pauses_share_of_the_interval()
    {
        var ring = new GcPauseRing(16);
        ring.Add(Pause(100, 200));
        ring.Add(Pause(300, 400));
        ring.Add(Pause(500, 600));

        Assert.Equal((3, 300UL), ring.OverlapWith(0, 1000));
        Assert.Equal((2, 50UL + 50UL), ring.OverlapWith(150, 350));
        Assert.Equal((1, 10UL), ring.OverlapWith(310, 320));
        Assert.Equal((0, 0UL), ring.OverlapWith(200, 300));
        Assert.Equal((0, 0UL), ring.OverlapWith(700, 800));
    }

    [Fact]
    public async Task Readers_on_other_threads_always_see_whole_ordered_pauses()
    {
        var ring = new GcPauseRing(64);
        using var stop = new CancellationTokenSource();
        var reading = new TaskCompletionSource();
        var reader = Task.Run(() =>
        {
            var reads = 0;
            while (!stop.IsCancellationRequested)
            {
                reading.TrySetResult();
                var pauses = ring.Between(0, ulong.MaxValue);
                for (var i = 0; i < pauses.Count; i++)
                {
                    Assert.Equal(pauses[i].StartMonoNs + 5, pauses[i].EndMonoNs); // never torn
                    if (i > 0)
                        Assert.True(pauses[i - 1].EndMonoNs <= pauses[i].StartMonoNs);
                }
                reads++;
            }
            return reads;
        });
        await reading.Task; // the writes race real reads, not an idle ring
        for (ulong i = 1; i <= 100_000; i++)
            ring.Add(Pause(i * 10, i * 10 + 5));
        stop.Cancel();
        Assert.True(await reader > 0);
        Assert.Equal(100_000 - 64, ring.Shed);
    }

    [Fact]
    public void A_pause_shares_only_its_own_time()
    {
        var pause = Pause(1_000, 3_000);
        Assert.Equal(2_000UL, pause.DurationNs);
        Assert.Equal(2_000UL, pause.OverlapNs(0, ulong.MaxValue));
        Assert.Equal(500UL, pause.OverlapNs(2_500, 10_000));
        Assert.Equal(0UL, pause.OverlapNs(3_000, 4_000));
        Assert.True(pause.IsForGc);
        Assert.False(pause with { SuspendReason = GCSuspendEEReason.SuspendForDebugger } is { IsForGc: true });
    }
}
