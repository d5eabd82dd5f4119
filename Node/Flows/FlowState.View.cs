using System.Net;
using System.Text;
using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Node.Flows;

/// <summary>The flow as a view (queries, history, sessions) and back (a passivated flow restored).</summary>
internal sealed partial class FlowState
{
    /// <summary>The full view, for queries, history and persistence; without its steps for sessions, which do not use them.</summary>
    public FlowView ToView(string hostId, long wallClockOffsetNs, bool withSteps = true, FlowNames? names = null)
    {
        var ipv6 = Family == TcpEventRecord.AfInet6;
        var view = new FlowView
        {
            HostId = hostId,
            Cookie = FlowIds.Published(Cookie),
            Netns = NetNs,
            Family = ipv6 ? "ipv6" : "ipv4",
            LocalAddress = names?.Address(_localAddress, ipv6) ?? Address(_localAddress),
            LocalPort = LocalPort,
            RemoteAddress = names?.Address(_remoteAddress, ipv6) ?? Address(_remoteAddress),
            RemotePort = RemotePort,
            Role = Role,
            MidLife = MidLife,
            State = State.KernelName(),
            Closed = Closed,
            CloseReason = CloseReason,
            ResetBy = ResetBy,
            FirstFinBy = FirstFinBy,
            WallClockOffsetNs = wallClockOffsetNs,
            FirstSeenNs = FirstSeenNs,
            SynNs = SynNs,
            EstablishedNs = EstablishedNs,
            LocalFinNs = LocalFinNs,
            RemoteFinNs = RemoteFinNs,
            ClosedNs = ClosedNs,
            LastEventNs = LastEventNs,
            HandshakeUs = HandshakeUs,
            BytesSent = BytesSent,
            BytesReceived = BytesReceived,
            SegmentsOut = _segmentsOut,
            SegmentsIn = _segmentsIn,
            SrttUs = _srttUs,
            Retransmissions = _retransmissions,
            ResetsSent = ResetsSent,
            ResetsReceived = ResetsReceived,
            IsnKnown = _isnKnown,
            IsnLocal = _isnLocal,
            IsnRemote = _isnRemote,
            Pid = _pid,
            Comm = names?.Comm(_comm) ?? Comm,
            CgroupId = _cgroupId,
            Events = Events,
            Reordered = Reordered,
            Duplicates = Duplicates,
            Unexpected = Unexpected,
            StepsTruncated = _stepsTruncated,
            TraceTag = TagForged ? 0 : _traceTag,
            TagForged = TagForged,
            TagSent = (_tagFlags & TcpEventFlags.TagSent) != 0,
            TagEchoed = (_tagFlags & TcpEventFlags.TagEchoed) != 0,
            TagReceived = (_tagFlags & TcpEventFlags.TagReceived) != 0,
            EventsLost = EventsLost,
            SessionKey = SessionKey ?? "",
        };
        if (AcceptedNs != 0 || Goid != 0)
            view.Runtime = RuntimeView();
        view.Health = HealthView();
        if (withSteps)
            AddSteps(view);
        return view;
    }

    /// <summary>What the flow itself knows of its process's runtime; the shard adds the process's figures (run queue, GC).</summary>
    private FlowRuntime RuntimeView() => new()
    {
        AcceptedNs = AcceptedNs,
        AcceptWaitUs = AcceptedNs != 0 && EstablishedNs != 0 && AcceptedNs >= EstablishedNs ? (AcceptedNs - EstablishedNs) / 1000 : 0,
        AcceptedTid = _acceptedTid,
        GoroutineId = Goid,
    };

    /// <summary>Adds the kept steps to a view made without them.</summary>
    public void AddSteps(FlowView view)
    {
        for (var i = 0; i < _stepCount; i++)
        {
            ref readonly var s = ref _steps[i];
            view.Steps.Add(new FlowStep { MonotonicNs = s.Ns, Event = s.Kind.Name(), OldState = s.Old.KernelName(), NewState = s.New.KernelName() });
        }
    }

    public string Comm => _comm.ToText();

    /// <summary>The process (tgid) at this end, 0 if none was seen.</summary>
    public uint Pid => _pid;

    /// <summary>The cgroup its process ran in (0 until a record with a process says).</summary>
    public ulong CgroupId => _cgroupId;

    private string Address(in AddressBytes bytes) => bytes.ToAddress(Family == TcpEventRecord.AfInet6).ToString();

    /// <summary>Rebuilds the state of a passivated flow from its saved view.</summary>
    public static FlowState FromView(FlowView v)
    {
        var s = new FlowState(FlowIds.Kernel(v.Cookie))
        {
            NetNs = v.Netns,
            Family = v.Family == "ipv6" ? TcpEventRecord.AfInet6 : TcpEventRecord.AfInet,
            LocalPort = (ushort)v.LocalPort,
            RemotePort = (ushort)v.RemotePort,
            Role = v.Role,
            MidLife = v.MidLife,
            Closed = v.Closed,
            FirstSeenNs = v.FirstSeenNs,
            SynNs = v.SynNs,
            EstablishedNs = v.EstablishedNs,
            LocalFinNs = v.LocalFinNs,
            RemoteFinNs = v.RemoteFinNs,
            ClosedNs = v.ClosedNs,
            LastEventNs = v.LastEventNs,
            BytesSent = v.BytesSent,
            BytesReceived = v.BytesReceived,
            ResetsSent = v.ResetsSent,
            ResetsReceived = v.ResetsReceived,
            Events = v.Events,
            Reordered = v.Reordered,
            Duplicates = v.Duplicates,
        };
        s.State = TcpStateNames.TryParseKernelName(v.State, out var state) ? state : TcpState.Unknown;
        s._synAckRttUs = (uint)Math.Min(v.HandshakeUs, uint.MaxValue);
        s._statsNs = v.LastEventNs;
        s._segmentsOut = v.SegmentsOut;
        s._segmentsIn = v.SegmentsIn;
        s._srttUs = v.SrttUs;
        s._retransmissions = v.Retransmissions;
        s._isnKnown = v.IsnKnown;
        s._isnLocal = v.IsnLocal;
        s._isnRemote = v.IsnRemote;
        s._pid = v.Pid;
        s._cgroupId = v.CgroupId;
        Encoding.UTF8.GetBytes(v.Comm.AsSpan(0, Math.Min(v.Comm.Length, 15)), s._comm);
        if (IPAddress.TryParse(v.LocalAddress, out var local))
            local.TryWriteBytes(s._localAddress, out _);
        if (IPAddress.TryParse(v.RemoteAddress, out var remote))
            remote.TryWriteBytes(s._remoteAddress, out _);
        s._firstResetBy = v.ResetBy;
        if (v.ResetBy != FlowSide.None)
            s._firstResetNs = v.ClosedNs != 0 ? v.ClosedNs : v.LastEventNs;
        s._closedFrom = v.CloseReason switch
        {
            CloseReason.Refused or CloseReason.ConnectTimeout => TcpState.SynSent,
            CloseReason.Normal => TcpState.LastAck,
            _ => TcpState.Established,
        };
        foreach (var step in v.Steps)
        {
            if (s._stepCount == MaxSteps)
                break;
            // An unreadable name (a newer writer) keeps the step, as TCP_UNKNOWN.
            _ = TcpStateNames.TryParseKernelName(step.OldState, out var o);
            _ = TcpStateNames.TryParseKernelName(step.NewState, out var n);
            s._steps[s._stepCount++] = new Step { Ns = step.MonotonicNs, Kind = TcpEventKindNames.TryParse(step.Event, out var kind) ? kind : TcpEventKind.State, Old = o, New = n };
        }
        s._stepsTruncated = v.StepsTruncated;
        s._traceTag = v.TraceTag;
        s._tagChecked = v.TagReceived && v.IsnKnown;
        s.TagForged = v.TagForged;
        s._tagFlags = (v.TagSent ? TcpEventFlags.TagSent : 0) | (v.TagEchoed ? TcpEventFlags.TagEchoed : 0) | (v.TagReceived ? TcpEventFlags.TagReceived : 0);
        s.EventsLost = v.EventsLost;
        s.SessionKey = v.SessionKey.Length > 0 ? v.SessionKey : null;
        s.RestoreHealth(v);
        if (v.Runtime is { } runtime)
        {
            s.AcceptedNs = runtime.AcceptedNs;
            s._acceptedTid = runtime.AcceptedTid;
            s.Goid = runtime.GoroutineId;
        }
        // Whatever the restored steps do not explain is carried as counted beyond them.
        s._unexpectedBeyondSteps = v.Unexpected > s.Unexpected ? v.Unexpected - s.Unexpected : 0;
        return s;
    }
}
