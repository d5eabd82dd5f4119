using FlowMesh.Contracts.Capture;
using static FlowMesh.Contracts.Capture.TcpState;
using FlowMesh.Contracts.Messages;
using FlowMesh.Node.Flows;
using FlowMesh.TestSupport.Records;

namespace FlowMesh.Node.UnitTests;

/// <summary>
/// The flow state machine over every transition Linux makes (RFC 9293 as the kernel
/// runs it), and over orders that are wrong: late, repeated and missing events.
/// </summary>
public sealed class FlowStateTests
{
    private const ulong Cookie = 42;

    /// <summary>An event in a scenario: "SYN_SENT>ESTABLISHED", "rst-in@SYN_SENT", "rst-out@CLOSE", "retx@FIN_WAIT1", "open@ESTABLISHED".</summary>
    private static TcpEventRecord Event(string spec, ulong ns)
    {
        TcpEventRecordBuilder b;
        if (spec.Contains('>', StringComparison.Ordinal))
        {
            var (from, to) = (Parse(spec.Split('>')[0]), Parse(spec.Split('>')[1]));
            b = TcpEventRecordBuilder.Transition(Cookie, from, to, ns);
        }
        else
        {
            var at = Parse(spec.Split('@')[1]);
            b = TcpEventRecordBuilder.Transition(Cookie, at, at, ns);
            b.Kind = spec.Split('@')[0] switch
            {
                "rst-in" => TcpEventKind.ResetReceived,
                "rst-out" => TcpEventKind.ResetSent,
                "retx" => TcpEventKind.Retransmit,
                "open" => TcpEventKind.Existing,
                var k => throw new ArgumentException(k),
            };
            if (b.Kind == TcpEventKind.Existing)
                b.Flags |= TcpEventFlags.MidLife;
        }
        return b.ToRecord();
    }

    private static TcpState Parse(string name) => TcpStateNames.TryParseKernelName("TCP_" + name, out var s) ? s : throw new ArgumentException(name);

    private static FlowState Run(IEnumerable<string> specs)
    {
        var state = new FlowState(Cookie);
        ulong ns = 1_000_000;
        foreach (var spec in specs)
        {
            state.Apply(Event(spec, ns));
            ns += 1_000_000; // 1 ms apart
        }
        return state;
    }

    public static TheoryData<string, string, TcpState, FlowRole, CloseReason, FlowSide, FlowSide> Lifecycles => new()
    {
        // name, events, final state, role, close reason, first FIN by, reset by
        { "client closes first", "CLOSE>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>FIN_WAIT1 FIN_WAIT1>FIN_WAIT2 FIN_WAIT2>CLOSE",
            Close, FlowRole.Client, CloseReason.Normal, FlowSide.Local, FlowSide.None },
        { "server closes last", "LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE_WAIT CLOSE_WAIT>LAST_ACK LAST_ACK>CLOSE",
            Close, FlowRole.Server, CloseReason.Normal, FlowSide.Remote, FlowSide.None },
        { "simultaneous open", "CLOSE>SYN_SENT SYN_SENT>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>FIN_WAIT1 FIN_WAIT1>FIN_WAIT2 FIN_WAIT2>CLOSE",
            Close, FlowRole.Client, CloseReason.Normal, FlowSide.Local, FlowSide.None },
        { "simultaneous close", "CLOSE>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>FIN_WAIT1 FIN_WAIT1>CLOSING CLOSING>CLOSE",
            Close, FlowRole.Client, CloseReason.Normal, FlowSide.Local, FlowSide.None },
        { "half-close, still open", "CLOSE>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>FIN_WAIT1 FIN_WAIT1>FIN_WAIT2",
            FinWait2, FlowRole.Client, CloseReason.Open, FlowSide.Local, FlowSide.None },
        { "peer half-closed, still open", "LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE_WAIT",
            CloseWait, FlowRole.Server, CloseReason.Open, FlowSide.Remote, FlowSide.None },
        { "refused", "CLOSE>SYN_SENT rst-in@SYN_SENT SYN_SENT>CLOSE",
            Close, FlowRole.Client, CloseReason.Refused, FlowSide.None, FlowSide.Remote },
        { "SYN retries then timeout", "CLOSE>SYN_SENT retx@SYN_SENT retx@SYN_SENT retx@SYN_SENT SYN_SENT>CLOSE",
            Close, FlowRole.Client, CloseReason.ConnectTimeout, FlowSide.None, FlowSide.None },
        { "abortive close here (SO_LINGER 0)", "CLOSE>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>CLOSE rst-out@CLOSE",
            Close, FlowRole.Client, CloseReason.ResetSent, FlowSide.None, FlowSide.Local },
        { "reset by the peer", "LISTEN>SYN_RECV SYN_RECV>ESTABLISHED rst-in@ESTABLISHED ESTABLISHED>CLOSE",
            Close, FlowRole.Server, CloseReason.ResetReceived, FlowSide.None, FlowSide.Remote },
        { "reset in CLOSE_WAIT", "LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE_WAIT rst-in@CLOSE_WAIT CLOSE_WAIT>CLOSE",
            Close, FlowRole.Server, CloseReason.ResetReceived, FlowSide.Remote, FlowSide.Remote },
        { "reset in LAST_ACK", "LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE_WAIT CLOSE_WAIT>LAST_ACK rst-in@LAST_ACK LAST_ACK>CLOSE",
            Close, FlowRole.Server, CloseReason.ResetReceived, FlowSide.Remote, FlowSide.Remote },
        { "reset in SYN_RECV", "LISTEN>SYN_RECV rst-in@SYN_RECV SYN_RECV>CLOSE",
            Close, FlowRole.Server, CloseReason.ResetReceived, FlowSide.None, FlowSide.Remote },
        { "close before established (FIN in SYN_RECV)", "LISTEN>SYN_RECV SYN_RECV>FIN_WAIT1 FIN_WAIT1>FIN_WAIT2 FIN_WAIT2>CLOSE",
            Close, FlowRole.Server, CloseReason.Normal, FlowSide.Local, FlowSide.None },
        { "TIME-WAIT then a stray reset", "CLOSE>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>FIN_WAIT1 FIN_WAIT1>FIN_WAIT2 FIN_WAIT2>CLOSE rst-out@TIME_WAIT",
            Close, FlowRole.Client, CloseReason.Normal, FlowSide.Local, FlowSide.Local },
        { "retransmissions while established", "CLOSE>SYN_SENT SYN_SENT>ESTABLISHED retx@ESTABLISHED retx@ESTABLISHED",
            Established, FlowRole.Client, CloseReason.Open, FlowSide.None, FlowSide.None },
        { "seen from mid-life", "open@ESTABLISHED ESTABLISHED>FIN_WAIT1 FIN_WAIT1>FIN_WAIT2 FIN_WAIT2>CLOSE",
            Close, FlowRole.Unknown, CloseReason.Normal, FlowSide.Local, FlowSide.None },
        { "mid-life, first seen at its close", "CLOSE_WAIT>LAST_ACK LAST_ACK>CLOSE",
            Close, FlowRole.Unknown, CloseReason.Normal, FlowSide.Local, FlowSide.None },
    };

    [Theory]
    [MemberData(nameof(Lifecycles))]
    public void Every_lifecycle_ends_where_TCP_says(string name, string events, TcpState state, FlowRole role, CloseReason reason, FlowSide firstFin, FlowSide resetBy)
    {
        var flow = Run(events.Split(' '));

        Assert.True(state == flow.State, $"{name}: state {flow.State}");
        Assert.True(role == flow.Role, $"{name}: role {flow.Role}");
        Assert.True(reason == flow.CloseReason, $"{name}: reason {flow.CloseReason}");
        Assert.True(firstFin == flow.FirstFinBy, $"{name}: first FIN by {flow.FirstFinBy}");
        Assert.True(resetBy == flow.ResetBy, $"{name}: reset by {flow.ResetBy}");
        Assert.True(0u == flow.Unexpected, $"{name}: {flow.Unexpected} unexpected");
        Assert.Equal(0u, flow.Duplicates);
        Assert.Equal(state == Close, flow.Closed);
    }

    [Fact]
    public void Milestones_and_handshake_of_a_client()
    {
        var flow = Run("CLOSE>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>FIN_WAIT1 FIN_WAIT1>FIN_WAIT2 FIN_WAIT2>CLOSE".Split(' '));

        Assert.Equal((1_000_000UL, 2_000_000UL, 3_000_000UL, 5_000_000UL), (flow.SynNs, flow.EstablishedNs, flow.LocalFinNs, flow.ClosedNs));
        Assert.Equal(1000UL, flow.HandshakeUs); // 1 ms from connect() to established
        var view = flow.ToView("h1", 0);
        Assert.Equal(["TCP_SYN_SENT", "TCP_ESTABLISHED", "TCP_FIN_WAIT1", "TCP_FIN_WAIT2", "TCP_CLOSE"], view.Steps.Select(s => s.NewState));
        Assert.Equal("h1", view.HostId);
        Assert.True(view.Closed);
    }

    [Fact]
    public void Every_transition_of_the_table_is_accepted_and_others_are_counted()
    {
        var all = Enum.GetValues<TcpState>().Where(s => s is not (Unknown or NewSynRecv or BoundInactive or TimeWait)).ToList();
        foreach (var from in all)
        {
            foreach (var to in all)
            {
                var flow = new FlowState(Cookie);
                flow.Apply(TcpEventRecordBuilder.Transition(Cookie, from, to, 1).ToRecord());
                Assert.True(TcpTransitions.IsAllowed(from, to) == (flow.Unexpected == 0), $"{from}->{to}");
                Assert.Equal(to, flow.State);
            }
        }
    }

    [Fact]
    public void Events_arriving_out_of_order_end_in_the_same_view()
    {
        string[] events = ["CLOSE>SYN_SENT", "SYN_SENT>ESTABLISHED", "ESTABLISHED>FIN_WAIT1", "FIN_WAIT1>FIN_WAIT2", "FIN_WAIT2>CLOSE"];
        var expected = Run(events).ToView("h", 0);
        var random = new Random(7);
        for (var trial = 0; trial < 200; trial++)
        {
            var order = Enumerable.Range(0, events.Length).OrderBy(_ => random.Next()).ToArray();
            var flow = new FlowState(Cookie);
            foreach (var i in order)
                flow.Apply(Event(events[i], (ulong)(i + 1) * 1_000_000));
            var view = flow.ToView("h", 0);

            Assert.Equal(expected.State, view.State);
            Assert.Equal((expected.SynNs, expected.EstablishedNs, expected.LocalFinNs, expected.ClosedNs), (view.SynNs, view.EstablishedNs, view.LocalFinNs, view.ClosedNs));
            Assert.Equal(expected.Steps, view.Steps);
            Assert.Equal(expected.CloseReason, view.CloseReason);
            Assert.Equal(0u, view.Unexpected);
            var late = order.Select((i, position) => order.Take(position).Any(j => j > i)).Count(x => x);
            Assert.Equal((uint)late, view.Reordered);
        }
    }

    [Fact]
    public void A_repeated_event_is_counted_and_ignored()
    {
        var flow = new FlowState(Cookie);
        var established = Event("SYN_SENT>ESTABLISHED", 2);
        flow.Apply(Event("CLOSE>SYN_SENT", 1));
        Assert.Equal(FlowState.Outcome.Applied, flow.Apply(established));
        Assert.Equal(FlowState.Outcome.Duplicate, flow.Apply(established));

        Assert.Equal(1u, flow.Duplicates);
        Assert.Equal(2u, flow.Events);
        Assert.Equal(Established, flow.State);
        Assert.Equal(0u, flow.Unexpected);
    }

    [Fact]
    public void A_missing_event_is_counted_and_the_flow_goes_on()
    {
        // SYN_SENT->ESTABLISHED was lost.
        var flow = Run("CLOSE>SYN_SENT ESTABLISHED>FIN_WAIT1 FIN_WAIT1>FIN_WAIT2 FIN_WAIT2>CLOSE".Split(' '));

        Assert.Equal(1u, flow.Unexpected);
        Assert.Equal(Close, flow.State);
        Assert.Equal(CloseReason.Normal, flow.CloseReason);
    }

    [Fact]
    public void Closing_is_reported_once()
    {
        var flow = new FlowState(Cookie);
        flow.Apply(Event("LISTEN>SYN_RECV", 1));
        flow.Apply(Event("SYN_RECV>ESTABLISHED", 2));
        Assert.Equal(FlowState.Outcome.ClosedNow, flow.Apply(Event("ESTABLISHED>CLOSE", 3)));
        Assert.Equal(FlowState.Outcome.Applied, flow.Apply(Event("rst-in@CLOSE", 4)));
    }

    [Fact]
    public void A_flow_whose_opening_was_missed_takes_its_role_from_the_handshake_end()
    {
        var client = new FlowState(Cookie);
        client.Apply(Event("SYN_SENT>ESTABLISHED", 2));
        var server = new FlowState(Cookie);
        server.Apply(Event("SYN_RECV>ESTABLISHED", 2));
        Assert.Equal((FlowRole.Client, FlowRole.Server), (client.Role, server.Role));
    }

    [Fact]
    public void The_latest_counters_win_even_when_they_arrive_first()
    {
        var flow = new FlowState(Cookie);
        var late = TcpEventRecordBuilder.Transition(Cookie, Established, FinWait1, 5);
        late.Flags = TcpEventFlags.Stats;
        late.BytesAcked = 500;
        var early = TcpEventRecordBuilder.Transition(Cookie, SynSent, Established, 2);
        early.Flags = TcpEventFlags.Stats;
        early.BytesAcked = 0;
        flow.Apply(late.ToRecord());
        flow.Apply(early.ToRecord());

        Assert.Equal(500UL, flow.BytesSent);
        Assert.Equal(FinWait1, flow.State);
    }

    [Fact]
    public void A_saved_view_restores_the_same_flow()
    {
        var flow = Run("CLOSE>SYN_SENT SYN_SENT>ESTABLISHED".Split(' '));
        flow.SessionKey = "isn:00000001-00000002"; // it had reported to its session
        var restored = FlowState.FromView(flow.ToView("h", 123));
        Assert.Equal(flow.SessionKey, restored.SessionKey);
        restored.Apply(Event("ESTABLISHED>FIN_WAIT1", 10_000_000));
        restored.Apply(Event("FIN_WAIT1>FIN_WAIT2", 11_000_000));
        restored.Apply(Event("FIN_WAIT2>CLOSE", 12_000_000));

        var expected = Run("CLOSE>SYN_SENT SYN_SENT>ESTABLISHED".Split(' '));
        Assert.Equal(FlowRole.Client, restored.Role);
        Assert.Equal(expected.SynNs, restored.SynNs);
        Assert.Equal(CloseReason.Normal, restored.CloseReason);
        Assert.Equal(0u, restored.Unexpected);
        Assert.Equal(5, restored.ToView("h", 123).Steps.Count);
    }

    [Fact]
    public void Arbitrary_event_streams_never_throw()
    {
        var random = new Random(99);
        var states = Enum.GetValues<TcpState>();
        var kinds = Enum.GetValues<TcpEventKind>();
        for (var trial = 0; trial < 2000; trial++)
        {
            var flow = new FlowState(Cookie);
            for (var i = 0; i < 30; i++)
            {
                var b = TcpEventRecordBuilder.Transition(Cookie, states[random.Next(states.Length)], states[random.Next(states.Length)], (ulong)random.Next(1, 50));
                b.Kind = kinds[random.Next(kinds.Length)];
                b.Flags = (TcpEventFlags)random.Next(256);
                flow.Apply(b.ToRecord());
            }
            _ = flow.ToView("h", 0);
            _ = flow.CloseReason;
            _ = flow.Unexpected;
        }
    }
}
