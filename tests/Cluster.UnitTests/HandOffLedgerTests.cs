using FlowMesh.Cluster.Sessions;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Cluster.UnitTests;

/// <summary>What a Node keeps for a resend, and what it gives back.</summary>
public sealed class HandOffLedgerTests
{
    private static FlowView Closed(ulong cookie) => new() { HostId = "host-a", Cookie = cookie, Closed = true };

    [Fact]
    public void Confirmed_flows_are_forgotten_and_the_rest_are_resent_when_their_member_is_gone_or_they_are_overdue()
    {
        var ledger = new HandOffLedger(capacity: 100);
        Assert.Null(ledger.Track([(Closed(1), "agg-1", 0), (Closed(2), "agg-2", 0), (Closed(3), "agg-1", 0)], nowMs: 1000));
        Assert.Null(ledger.Track([(Closed(4), "agg-2", 1)], nowMs: 5000));
        ledger.Confirm([3]);
        Assert.Equal(3, ledger.Count);

        // agg-1 died: its unconfirmed flow goes back, with its attempt; nothing is overdue yet.
        var resend = ledger.TakeForResend(member => member == "agg-1", sentBeforeMs: 0);
        Assert.Equal([(1UL, 0)], resend.Select(r => (r.View.Cookie, r.Attempt)));
        // Sent before 2000 and still unconfirmed: overdue, whatever its member.
        resend = ledger.TakeForResend(_ => false, sentBeforeMs: 2000);
        Assert.Equal([(2UL, 0)], resend.Select(r => (r.View.Cookie, r.Attempt)));
        Assert.Equal(1, ledger.Count);
        Assert.Empty(ledger.TakeForResend(_ => false, sentBeforeMs: 2000));
    }

    [Fact]
    public void A_full_ledger_counts_what_it_cannot_keep_but_a_later_view_of_a_kept_flow_replaces_it()
    {
        var ledger = new HandOffLedger(capacity: 2);
        var third = Closed(3);
        Assert.Same(third, Assert.Single(ledger.Track([(Closed(1), "agg-1", 0), (Closed(2), "agg-1", 0), (third, "agg-1", 0)], nowMs: 0)!));
        var later = Closed(2);
        later.ResetsReceived = 1;
        Assert.Null(ledger.Track([(later, "agg-2", 0)], nowMs: 10));
        Assert.Equal(2, ledger.Count);
        var resend = ledger.TakeForResend(member => member == "agg-2", sentBeforeMs: 0);
        Assert.Same(later, Assert.Single(resend).View);
    }
}
