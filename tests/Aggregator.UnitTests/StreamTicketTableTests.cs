using System.Buffers.Text;
using FlowMesh.Aggregator.Gateway;

namespace FlowMesh.Aggregator.UnitTests;

public sealed class StreamTicketTableTests
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);

    /// <summary>A clock the test moves.</summary>
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static string Issue(StreamTicketTable table) =>
        table.Issue(out _)?.Ticket ?? throw new InvalidOperationException("the table refused a ticket");

    [Fact]
    public void A_ticket_is_32_random_bytes_in_base64url_and_expires_one_lifetime_after_issue()
    {
        var clock = new ManualClock();
        var table = new StreamTicketTable(Lifetime, 100, clock);
        var (ticket, expires) = table.Issue(out _)!.Value;
        Assert.Equal(32, Base64Url.DecodeFromChars(ticket).Length);
        Assert.DoesNotContain('=', ticket);
        Assert.Equal(clock.Now.Add(Lifetime).ToUnixTimeMilliseconds(), expires);
        Assert.NotEqual(ticket, Issue(table));
        Assert.Equal(2, table.Issued);
    }

    [Fact]
    public void A_ticket_opens_one_stream_then_says_used()
    {
        var table = new StreamTicketTable(Lifetime, 100, new ManualClock());
        var ticket = Issue(table);
        Assert.Equal(TicketCheck.Valid, table.Redeem(ticket));
        Assert.Equal(TicketCheck.Used, table.Redeem(ticket));
        Assert.Equal(TicketCheck.Unknown, table.Redeem("not-a-ticket"));
    }

    [Fact]
    public void A_ticket_past_its_lifetime_is_expired_and_a_lifetime_later_forgotten()
    {
        var clock = new ManualClock();
        var table = new StreamTicketTable(Lifetime, 100, clock);
        var ticket = Issue(table);
        clock.Now += Lifetime - TimeSpan.FromMilliseconds(1);
        var lastMoment = Issue(table);
        Assert.Equal(TicketCheck.Valid, table.Redeem(lastMoment));
        clock.Now += TimeSpan.FromMilliseconds(1);
        Assert.Equal(TicketCheck.Expired, table.Redeem(ticket));
        Assert.Equal(TicketCheck.Expired, table.Redeem(ticket)); // an expired one is not used up
        clock.Now += Lifetime;
        Assert.Equal(TicketCheck.Unknown, table.Redeem(ticket));
        Assert.Equal(1, table.Count); // the later one, used, kept until a lifetime past its own expiry
    }

    [Fact]
    public void A_full_table_refuses_counts_and_says_when_the_oldest_expires_and_expired_ones_make_room()
    {
        var clock = new ManualClock();
        var table = new StreamTicketTable(Lifetime, 3, clock);
        var first = Issue(table);
        clock.Now += TimeSpan.FromSeconds(10);
        Issue(table);
        Issue(table);
        Assert.Equal(TicketCheck.Valid, table.Redeem(first)); // used ones hold their place until they expire: the memory stays bounded
        Assert.Null(table.Issue(out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(50), retryAfter);
        Assert.Equal(1, table.Refused);

        clock.Now += TimeSpan.FromSeconds(50); // the first expires
        Assert.NotNull(table.Issue(out _));
        Assert.Equal(3, table.Count);
        Assert.Equal(TicketCheck.Unknown, table.Redeem(first)); // dropped early to make room
        Assert.Equal(1, table.Refused);
    }
}
