using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Flows;
using FlowMesh.Node.Kernel;
using FlowMesh.TestSupport.Records;

namespace FlowMesh.Node.UnitTests;

/// <summary>
/// How a flow's TCP health reaches its view: the kernel's latest figures, the first reset's
/// phase and cause, the error at close, the reason names read from the kernel's tracepoint
/// formats, and all of it kept across passivation.
/// </summary>
public sealed class TcpHealthViewTests
{
    private const ulong Cookie = 7;

    // The tail of the real format file of skb:kfree_skb and tcp:tcp_send_reset on kernel 6.18.
    private const string DropFormat = """
        print fmt: "skbaddr=%p rx_skaddr=%p protocol=%u location=%pS reason: %s", REC->skbaddr, REC->rx_sk, REC->protocol, REC->location, __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, { 3, "NO_SOCKET" }, { 4, "SOCKET_CLOSE" }, { 36, "TCP_OLD_DATA" }, { 40, "TCP_OLD_SEQUENCE" }, { 12, "NETFILTER_DROP" })
        """;

    private const string ResetFormat = """
        print fmt: "... state=%s reason=%s", REC->saddr, REC->state ? __print_symbolic(REC->state, { TCP_ESTABLISHED, "TCP_ESTABLISHED" }, { TCP_SYN_SENT, "TCP_SYN_SENT" }) : "UNKNOWN", __print_symbolic(REC->reason, { 0, "NOT_SPECIFIED" }, { 1, "NO_SOCKET" }, { 14, "TCP_STATE" }, { 15, "TCP_KEEPALIVE_TIMEOUT" })
        """;

    [Fact]
    public void Reason_names_are_read_from_the_reason_list_only()
    {
        var drops = KernelReasonNames.Parse(DropFormat);
        Assert.Equal("TCP_OLD_DATA", drops[36]);
        Assert.Equal("NETFILTER_DROP", drops[12]);
        Assert.Equal(6, drops.Count);

        // The state list before the reason list uses names, not numbers: none of it is taken.
        var resets = KernelReasonNames.Parse(ResetFormat);
        Assert.Equal(["NOT_SPECIFIED", "NO_SOCKET", "TCP_STATE", "TCP_KEEPALIVE_TIMEOUT"], resets.OrderBy(p => p.Key).Select(p => p.Value));
        Assert.Empty(KernelReasonNames.Parse("print fmt: \"no reasons here\""));
    }

    [Fact]
    public void Netstat_counters_are_read_by_name_from_their_group()
    {
        const string Netstat = "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPToZeroWindowAdv\nTcpExt: 0 7 9 3\nIpExt: InNoRoutes ListenOverflows\nIpExt: 1 99\n";
        Assert.Equal(7, FlowMesh.Node.Hosting.HostTcpCounters.NetstatValue(Netstat, "TcpExt", "ListenOverflows"));
        Assert.Equal(3, FlowMesh.Node.Hosting.HostTcpCounters.NetstatValue(Netstat, "TcpExt", "TCPToZeroWindowAdv"));
        Assert.Null(FlowMesh.Node.Hosting.HostTcpCounters.NetstatValue(Netstat, "TcpExt", "TCPZeroWindowDrop"));
    }

    [Theory]
    [InlineData("NO_SOCKET", "no-listener")]
    [InlineData("TCP_STATE", "abortive-close")]
    [InlineData("TCP_ABORT_ON_DATA", "abortive-close")]
    [InlineData("TCP_KEEPALIVE_TIMEOUT", "timeout")]
    [InlineData("TCP_ABORT_ON_MEMORY", "out-of-memory")]
    [InlineData("TCP_INVALID_ACK_SEQUENCE", "protocol")]
    [InlineData("", "unspecified")]
    public void A_sent_reset_is_explained_by_its_reason(string reason, string cause) =>
        Assert.Equal(cause, TcpResetCauses.OfSent(reason));

    [Fact]
    public void The_first_reset_gives_the_phase_and_cause_and_the_close_gives_the_error()
    {
        var state = new FlowState(Cookie);
        state.Apply(TcpEventRecordBuilder.Transition(Cookie, TcpState.Close, TcpState.SynSent, 1_000).ToRecord());
        var reset = TcpEventRecordBuilder.Transition(Cookie, TcpState.SynSent, TcpState.SynSent, 2_000);
        reset.Kind = TcpEventKind.ResetReceived;
        state.Apply(reset.ToRecord());
        var close = TcpEventRecordBuilder.Transition(Cookie, TcpState.SynSent, TcpState.Close, 3_000);
        close.SocketError = 111;
        close.Flags |= TcpEventFlags.Stats;
        close.Health = new TcpHealthRecord { RetransmitsSyn = 2, MinRttUs = 0 };
        state.Apply(close.ToRecord());

        var h = state.ToView("host-a", 0).Health;
        Assert.Equal(("handshake", "refused", "", "ECONNREFUSED", 2u), (h.ResetPhase, h.ResetCause, h.ResetReason, h.Error, h.RetransmitsSyn));
    }

    [Fact]
    public void A_reset_sent_as_the_socket_closes_is_in_the_phase_it_closed_from()
    {
        // close() with unread data: the kernel moves to CLOSE, then sends the reset.
        var state = new FlowState(Cookie);
        state.Apply(TcpEventRecordBuilder.Transition(Cookie, TcpState.SynSent, TcpState.Established, 1_000).ToRecord());
        state.Apply(TcpEventRecordBuilder.Transition(Cookie, TcpState.Established, TcpState.Close, 2_000).ToRecord());
        var sent = TcpEventRecordBuilder.Transition(Cookie, TcpState.Close, TcpState.Close, 2_001);
        sent.Kind = TcpEventKind.ResetSent;
        state.Apply(sent.ToRecord());
        Assert.Equal("transfer", state.ToView("host-a", 0).Health.ResetPhase);
    }

    [Fact]
    public void A_passivated_flow_keeps_its_health_and_names()
    {
        var state = new FlowState(Cookie);
        state.Apply(TcpEventRecordBuilder.Transition(Cookie, TcpState.SynSent, TcpState.Established, 1_000).ToRecord());
        var retransmit = TcpEventRecordBuilder.Transition(Cookie, TcpState.Established, TcpState.Established, 2_000);
        retransmit.Kind = TcpEventKind.Retransmit;
        retransmit.Flags |= TcpEventFlags.Stats;
        retransmit.Health = new TcpHealthRecord
        {
            MinRttUs = 150, RttVarUs = 40, CongestionWindow = 12, DeliveryRate = 5_000_000, BytesRetransmitted = 2896,
            RetransmitsFast = 2, DsackDuplicates = 1, OutOfOrderPackets = 3, Drops = 4, DropReason = 0x7fff_fff0,
        };
        state.Apply(retransmit.ToRecord());
        var sent = TcpEventRecordBuilder.Transition(Cookie, TcpState.Established, TcpState.Established, 3_000);
        sent.Kind = TcpEventKind.ResetSent;
        sent.Reason = 0x7fff_fff1;
        state.Apply(sent.ToRecord());

        var before = state.ToView("host-a", 0);
        var after = FlowState.FromView(before).ToView("host-a", 0);
        Assert.Equal("transfer", before.Health.ResetPhase);
        Assert.Equal("reason 2147483633", before.Health.ResetReason); // a number this kernel does not name
        Assert.Equal(before.Health, after.Health);
    }
}
