using FlowMesh.Cluster.Membership;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Cluster.UnitTests;

public sealed class MembershipViewTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(8);

    private static (MemberRegistration, long) Lease8(string id) => (new MemberRegistration { MemberId = id }, 8000);

    private static string[] Ids(MembershipView view) => view.Members.Select(m => m.MemberId).Order().ToArray();

    /// <summary>Reads once a second from <paramref name="fromMs"/> to <paramref name="toMs"/>, as the provider polls, seeing only <paramref name="renewing"/>.</summary>
    private static void Poll(MembershipView view, long fromMs, long toMs, params string[] renewing)
    {
        for (var t = fromMs; t <= toMs; t += 1000)
            view.ApplyRead(t, renewing.Select(Lease8), []);
    }

    [Fact]
    public void Members_with_live_leases_are_in_the_view()
    {
        var view = new MembershipView(Lease);
        view.ApplyRead(0, [Lease8("a"), Lease8("b")], []);
        Assert.Equal(["a", "b"], Ids(view));
    }

    [Fact]
    public void A_member_that_stops_renewing_leaves_when_its_lease_ends_on_our_clock()
    {
        var view = new MembershipView(Lease);
        view.ApplyRead(0, [Lease8("a"), Lease8("b")], []);
        Poll(view, 1000, 7000, "a"); // b's entry gone from Redis, its lease not over
        Assert.Equal(["a", "b"], Ids(view));
        Poll(view, 8000, 8000, "a");
        Assert.Equal(["a"], Ids(view));
    }

    [Fact]
    public void A_graceful_leave_is_immediate()
    {
        var view = new MembershipView(Lease);
        view.ApplyRead(0, [Lease8("a"), Lease8("b")], []);
        view.ApplyRead(100, [Lease8("a")], ["b"]);
        Assert.Equal(["a"], Ids(view));
        Assert.True(view.Depart("a", 200));
        Assert.Empty(view.Members);
    }

    [Fact]
    public void A_member_whose_lease_ran_out_is_not_let_back_in_when_it_renews_under_the_same_id()
    {
        // Frozen (SIGSTOP) past its lease, then resumed: it renews, but Proto.Cluster has blocked its id.
        var view = new MembershipView(Lease);
        view.ApplyRead(0, [Lease8("a"), Lease8("b")], []);
        Poll(view, 1000, 9000, "a");
        Assert.Equal(["a"], Ids(view));
        Poll(view, 10_000, 12_000, "a", "b");
        Assert.Equal(["a"], Ids(view));
        Assert.True(view.IsGone("b"));
        // A new start of it is a new id, and welcome.
        view.ApplyRead(13_000, [Lease8("a"), Lease8("b2")], []);
        Assert.Equal(["a", "b2"], Ids(view));
    }

    [Fact]
    public void Nobody_expires_while_Redis_cannot_be_read()
    {
        var view = new MembershipView(Lease);
        view.ApplyRead(0, [Lease8("a"), Lease8("b")], []);
        view.ReadFailed();
        view.ReadFailed();
        Assert.Equal(["a", "b"], Ids(view));
    }

    [Fact]
    public void After_an_outage_an_empty_Redis_gives_everyone_a_full_lease_to_register_again()
    {
        var view = new MembershipView(Lease);
        Poll(view, 0, 3000, "a", "b");
        view.ReadFailed(); // Redis down until 30 s, then back empty
        view.ApplyRead(30_000, [], []);
        Assert.Equal(["a", "b"], Ids(view));

        Poll(view, 31_000, 37_000, "a"); // a registered again, b never did
        Assert.Equal(["a", "b"], Ids(view));
        Poll(view, 38_000, 38_000, "a");
        Assert.Equal(["a"], Ids(view));
    }

    [Fact]
    public void A_read_after_a_long_gap_counts_as_an_outage_even_if_no_read_failed()
    {
        // A read queued by the Redis client during an outage succeeds against the
        // restarted, empty Redis, and no read ever failed.
        var view = new MembershipView(Lease);
        Poll(view, 0, 3000, "a", "b");
        view.ApplyRead(20_000, [], []);
        Assert.Equal(["a", "b"], Ids(view));
        Poll(view, 21_000, 27_000, "a");
        Assert.Equal(["a", "b"], Ids(view));
        Poll(view, 28_000, 28_000, "a");
        Assert.Equal(["a"], Ids(view));
    }

    [Fact]
    public void A_renewed_lease_pushes_the_deadline()
    {
        var view = new MembershipView(Lease);
        Poll(view, 0, 6000, "a");
        Poll(view, 7000, 13_000);
        Assert.Equal(["a"], Ids(view));
        Poll(view, 14_000, 14_000);
        Assert.Empty(view.Members);
    }
}
