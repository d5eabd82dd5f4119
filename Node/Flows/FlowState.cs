using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Node.Flows;

/// <summary>
/// Everything FlowMesh knows about one connection on one host, kept compact (a few
/// hundred bytes) because a Node holds one per live connection.
///
/// Events of one socket can reach it out of order (they come through one ring per
/// CPU) or twice; <see cref="Apply"/> never throws on them. The current state is the
/// one reached by the latest event by kernel time; milestones keep their earliest
/// time; counters come from the latest sample; anomalies are counted.
/// </summary>
internal sealed partial class FlowState
{
    /// <summary>How many events are kept for the view: transitions, resets, the mid-life start (a plain connection makes 5); retransmissions are counted, not kept.</summary>
    public const int MaxSteps = 8;

    public ulong Cookie { get; private set; }
    public uint NetNs { get; private set; }
    public byte Family { get; private set; }
    public ushort LocalPort { get; private set; }
    public ushort RemotePort { get; private set; }
    private AddressBytes _localAddress;
    private AddressBytes _remoteAddress;

    public FlowRole Role { get; private set; }
    public bool MidLife { get; private set; }
    public TcpState State { get; private set; }
    public bool Closed { get; private set; }
    private TcpState _closedFrom;

    public ulong FirstSeenNs { get; private set; }
    public ulong SynNs { get; private set; }
    public ulong EstablishedNs { get; private set; }
    public ulong LocalFinNs { get; private set; }
    public ulong RemoteFinNs { get; private set; }
    public ulong ClosedNs { get; private set; }
    public ulong LastEventNs { get; private set; }
    private ulong _firstResetNs;
    private FlowSide _firstResetBy;
    private uint _synAckRttUs;

    private ulong _statsNs;
    public ulong BytesSent { get; private set; }
    public ulong BytesReceived { get; private set; }
    private uint _segmentsOut;
    private uint _segmentsIn;
    private uint _srttUs;
    private uint _retransmissions;
    public uint ResetsSent { get; private set; }
    public uint ResetsReceived { get; private set; }

    private bool _isnKnown;
    private uint _isnLocal;
    private uint _isnRemote;

    private uint _pid;
    private CommBytes _comm;
    private ulong _cgroupId;
    private bool _processFromTask;

    public uint Events { get; private set; }
    public uint Reordered { get; private set; }
    public uint Duplicates { get; private set; }
    private uint _unexpectedBeyondSteps;

    private StepArray _steps;
    private byte _stepCount;
    private bool _stepsTruncated;

    // Runtime (Node:Runtime): the accept() that handed the socket to its server, and the goroutine of a Go end.
    public ulong AcceptedNs { get; private set; }
    private uint _acceptedTid;
    public ulong Goid { get; private set; }

    private ulong _traceTag;
    private TcpEventFlags _tagFlags;
    private bool _tagChecked;

    /// <summary>The peer's tag was not signed by the fleet for this connection: it is left out of the view, so it never joins.</summary>
    public bool TagForged { get; private set; }

    /// <summary>The host's kernel dropped events while this flow lived (set by its shard from the drop counters).</summary>
    public bool EventsLost { get; set; }

    /// <summary>The session key of the flow's first hand-off, kept for every later one (null until then).</summary>
    public string? SessionKey { get; set; }

    // 12 bytes: packed so eight steps cost 96 bytes of every live flow, not 128.
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct Step
    {
        public ulong Ns;
        public TcpEventKind Kind;
        public TcpState Old;
        public TcpState New;
    }

    [InlineArray(MaxSteps)]
    private struct StepArray
    {
        private Step _element0;
    }

    public FlowState(ulong cookie) => Cookie = cookie;

    /// <summary>The result of applying one event.</summary>
    public enum Outcome
    {
        Applied,
        /// <summary>The same event had been applied already; nothing changed.</summary>
        Duplicate,
        /// <summary>Applied, and with it the connection reached TCP_CLOSE.</summary>
        ClosedNow,
    }

    public Outcome Apply(in TcpEventRecord r)
    {
        if (IsDuplicate(r))
        {
            Duplicates++;
            return Outcome.Duplicate;
        }
        Events++;
        var ts = r.TimestampNs;
        var reordered = Events > 1 && ts < LastEventNs;
        if (reordered)
            Reordered++;
        // Retransmissions, echoes and reports are counted and flagged, not kept as steps of the lifecycle.
        if (r.Kind is not (TcpEventKind.Retransmit or TcpEventKind.TagEchoed or TcpEventKind.Report))
            RecordStep(r);
        if (FirstSeenNs == 0 || ts < FirstSeenNs)
            FirstSeenNs = ts;
        LearnIdentity(r);
        LearnProcess(r);
        if (r.Has(TcpEventFlags.MidLife))
            MidLife = true;

        var wasClosed = Closed;
        switch (r.Kind)
        {
            case TcpEventKind.State:
                ApplyTransition(r, reordered);
                break;
            case TcpEventKind.Existing:
                MidLife = true;
                if (!reordered)
                    State = r.NewState;
                break;
            case TcpEventKind.ResetSent:
                ResetsSent++;
                NoteReset(r, FlowSide.Local);
                break;
            case TcpEventKind.ResetReceived:
                ResetsReceived++;
                NoteReset(r, FlowSide.Remote);
                break;
            case TcpEventKind.Accepted:
                if (AcceptedNs == 0 || ts < AcceptedNs)
                {
                    AcceptedNs = ts;
                    _acceptedTid = r.Pid;
                    if (r.Has(TcpEventFlags.Goid))
                        Goid = r.Goid;
                }
                break;
            case TcpEventKind.Retransmit:
            case TcpEventKind.TagEchoed: // its flag is learnt with the trace tag below
            case TcpEventKind.Report: // its figures are taken below
                break;
        }
        if (r.Has(TcpEventFlags.Stats) && ts >= _statsNs)
        {
            _statsNs = ts;
            BytesSent = r.BytesAcked;
            BytesReceived = r.BytesReceived;
            _segmentsOut = r.SegmentsOut;
            _segmentsIn = r.SegmentsIn;
            _srttUs = r.SmoothedRttUs;
            _retransmissions = r.TotalRetransmissions;
            _health = r.Health;
        }
        // Outside the freshness check above: an older record's FIN is still the earliest FIN.
        if (r.Has(TcpEventFlags.FinReceived))
            RemoteFinNs = Earliest(RemoteFinNs, ts);
        if (r.Has(TcpEventFlags.Isn))
        {
            _isnKnown = true;
            _isnLocal = r.IsnLocal;
            _isnRemote = r.IsnRemote;
        }
        if (r.TraceTag != 0)
        {
            _traceTag = r.TraceTag;
            _tagFlags |= r.Flags & (TcpEventFlags.TagSent | TcpEventFlags.TagEchoed | TcpEventFlags.TagReceived);
        }
        // A tag from the peer counts only if the fleet signed it for this connection (its client ISN).
        if (!_tagChecked && _isnKnown && (_tagFlags & TcpEventFlags.TagReceived) != 0)
        {
            _tagChecked = true;
            TagForged = !TagAuthenticator.Verify(_traceTag, _isnRemote);
        }
        if (ts > LastEventNs)
            LastEventNs = ts;
        return !wasClosed && Closed ? Outcome.ClosedNow : Outcome.Applied;
    }

    private void ApplyTransition(in TcpEventRecord r, bool reordered)
    {
        var ts = r.TimestampNs;
        // Past the kept steps, check against the state reached so far (in kernel order
        // within the steps, see Unexpected).
        if (_stepsTruncated && !reordered && (!TcpTransitions.IsAllowed(r.OldState, r.NewState) || r.OldState != State))
            _unexpectedBeyondSteps++;
        if (!reordered)
            State = r.NewState;

        switch (r.OldState, r.NewState)
        {
            case (TcpState.Close, TcpState.SynSent):
                Role = FlowRole.Client;
                SynNs = Earliest(SynNs, ts);
                if (r.Has(TcpEventFlags.Goid))
                    Goid = r.Goid; // the goroutine in connect(); a later close may run in another
                break;
            case (TcpState.SynSent, TcpState.SynRecv): // simultaneous open
                Role = FlowRole.Client;
                break;
            case (TcpState.Listen, TcpState.SynRecv):
                Role = FlowRole.Server;
                SynNs = Earliest(SynNs, ts);
                break;
            case (TcpState.SynSent or TcpState.SynRecv, TcpState.Established):
                // The role, if the opening was never seen (it carries the ISNs, so its key must say which is whose).
                if (Role == FlowRole.Unknown)
                    Role = r.OldState == TcpState.SynSent ? FlowRole.Client : FlowRole.Server;
                EstablishedNs = Earliest(EstablishedNs, ts);
                if (r.Has(TcpEventFlags.Stats) && _synAckRttUs == 0)
                    _synAckRttUs = r.SmoothedRttUs;
                break;
            case (_, TcpState.FinWait1):
            case (TcpState.CloseWait, TcpState.LastAck):
                LocalFinNs = Earliest(LocalFinNs, ts);
                break;
        }
        if (r.NewState is TcpState.CloseWait || (r.OldState == TcpState.FinWait1 && r.NewState == TcpState.Closing))
            RemoteFinNs = Earliest(RemoteFinNs, ts);
        if (r.NewState == TcpState.Close && r.OldState != TcpState.Listen && !Closed)
        {
            Closed = true;
            ClosedNs = ts;
            _closedFrom = r.OldState;
            _closeError = r.SocketError;
        }
    }

    private void NoteReset(in TcpEventRecord r, FlowSide side)
    {
        if (_firstResetNs == 0 || r.TimestampNs < _firstResetNs)
        {
            _firstResetNs = r.TimestampNs;
            _firstResetBy = side;
            _firstResetState = r.OldState;
            _firstResetReason = r.Reason;
        }
    }

    /// <summary>Why the connection ended, derived from what was seen (events may arrive in any order).</summary>
    public CloseReason CloseReason
    {
        get
        {
            if (!Closed)
                return CloseReason.Open;
            if (_closedFrom == TcpState.SynSent)
                return ResetsReceived > 0 ? CloseReason.Refused : CloseReason.ConnectTimeout;
            // A FIN handshake that completed before any reset is a normal close, even if a
            // stray reset (from TIME-WAIT, say) follows.
            var finished = _closedFrom is TcpState.FinWait2 or TcpState.Closing or TcpState.LastAck;
            if (finished && (_firstResetNs == 0 || _firstResetNs > ClosedNs))
                return CloseReason.Normal;
            if (_firstResetBy == FlowSide.Local)
                return CloseReason.ResetSent;
            if (_firstResetBy == FlowSide.Remote)
                return CloseReason.ResetReceived;
            return LocalFinNs != 0 || RemoteFinNs != 0 ? CloseReason.Normal : CloseReason.Aborted;
        }
    }

    public FlowSide ResetBy => _firstResetBy;

    /// <summary>
    /// Transitions that do not follow from the state before them in kernel order, or that
    /// TCP never makes: each means an event was missed. Computed over the kept steps when
    /// read, so events that merely arrived late are not counted.
    /// </summary>
    public uint Unexpected
    {
        get
        {
            var count = _unexpectedBeyondSteps;
            var state = TcpState.Unknown;
            for (var i = 0; i < _stepCount; i++)
            {
                ref readonly var s = ref _steps[i];
                if (s.Kind == TcpEventKind.State)
                {
                    if (!TcpTransitions.IsAllowed(s.Old, s.New) || (state != TcpState.Unknown && s.Old != state))
                        count++;
                    state = s.New;
                }
                else if (s.Kind == TcpEventKind.Existing)
                {
                    state = s.New;
                }
            }
            return count;
        }
    }

    /// <summary>
    /// Client: connect() to established. Server: the SYN-ACK's round trip, the kernel's
    /// first RTT sample (the SYN itself arrived on the listener's request socket, which
    /// has no cookie of its own). Computed when read: the events may arrive in any order.
    /// </summary>
    public ulong HandshakeUs =>
        Role == FlowRole.Client && SynNs != 0 && EstablishedNs >= SynNs ? (EstablishedNs - SynNs) / 1000 : _synAckRttUs;

    public FlowSide FirstFinBy =>
        LocalFinNs == 0 && RemoteFinNs == 0 ? FlowSide.None
        : RemoteFinNs == 0 || (LocalFinNs != 0 && LocalFinNs <= RemoteFinNs) ? FlowSide.Local
        : FlowSide.Remote;

    private bool IsDuplicate(in TcpEventRecord r)
    {
        for (var i = 0; i < _stepCount; i++)
        {
            ref readonly var s = ref _steps[i];
            if (s.Ns == r.TimestampNs && s.Kind == r.Kind && s.Old == r.OldState && s.New == r.NewState)
                return true;
        }
        return false;
    }

    private void RecordStep(in TcpEventRecord r)
    {
        if (_stepCount == MaxSteps)
        {
            // Keep the earliest events (the opening); note the rest were cut.
            _stepsTruncated = true;
            return;
        }
        // Keep the steps in kernel order even when an event arrives late.
        var i = (int)_stepCount;
        while (i > 0 && _steps[i - 1].Ns > r.TimestampNs)
        {
            _steps[i] = _steps[i - 1];
            i--;
        }
        _steps[i] = new Step { Ns = r.TimestampNs, Kind = r.Kind, Old = r.OldState, New = r.NewState };
        _stepCount++;
    }

    private static ulong Earliest(ulong current, ulong ts) => current == 0 || ts < current ? ts : current;
}
