using FlowMesh.Cluster.Membership;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Cluster.UnitTests;

public sealed class MembershipViewTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(8);

    private static (MemberRegistration, long) Lease8(string id) => (new MemberRegistration { MemberId = id }, 8000);

    private static string[] Ids(MembershipView view) => view.Members.Select(m => m.MemberId).Order().ToArray();

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
        view.ApplyRead(7_999, [Lease8("a")], []); // b's entry gone from Redis, its lease not over
        Assert.Equal(["a", "b"], Ids(view));
        view.ApplyRead(8_000, [Lease8("a")], []);
        Assert.Equal(["a"], Ids(view));
    }

    [Fact]
    public void A_graceful_leave_is_immediate()
    {
        var view = new MembershipView(Lease);
        view.ApplyRead(0, [Lease8("a"), Lease8("b")], []);
        view.ApplyRead(100, [Lease8("a")], ["b"]);
        Assert.Equal(["a"], Ids(view));
        Assert.True(view.Depart("a"));
        Assert.Empty(view.Members);
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
        view.ApplyRead(0, [Lease8("a"), Lease8("b")], []);
        view.ReadFailed(); // Redis down for 30 s, then back empty
        view.ApplyRead(30_000, [], []);
        Assert.Equal(["a", "b"], Ids(view));

        view.ApplyRead(31_000, [Lease8("a")], []); // a registered again, b never did
        view.ApplyRead(37_999, [Lease8("a")], []);
        Assert.Equal(["a", "b"], Ids(view));
        view.ApplyRead(38_000, [Lease8("a")], []);
        Assert.Equal(["a"], Ids(view));
    }

    [Fact]
    public void A_renewed_lease_pushes_the_deadline()
    {
        var view = new MembershipView(Lease);
        view.ApplyRead(0, [Lease8("a")], []);
        view.ApplyRead(6_000, [Lease8("a")], []);
        view.ApplyRead(13_000, [], []);
        Assert.Equal(["a"], Ids(view));
        view.ApplyRead(14_000, [], []);
        Assert.Empty(view.Members);
    }
}
