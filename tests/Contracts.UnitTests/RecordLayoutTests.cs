using System.Runtime.CompilerServices;
using System.Text.Json;
using FlowMesh.Contracts.Capture;
using FlowMesh.TestSupport.Records;

namespace FlowMesh.Contracts.UnitTests;

/// <summary>
/// The C# mirrors of bpf/capture.h must match the C compiler's layout to the byte.
/// layout.json is produced at build time by compiling and running bpf/layout.c.
/// </summary>
public sealed class RecordLayoutTests
{
    private static readonly JsonElement Layout = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "layout.json"))).RootElement;

    private static JsonElement Struct(string name) => Layout.GetProperty(name);

    private static int CField(string structName, string field) => Struct(structName).GetProperty("fields").GetProperty(field).GetInt32();

    [Fact]
    public void Record_version_matches_the_header()
    {
        Assert.Equal(TcpEventRecord.CurrentVersion, Layout.GetProperty("version").GetInt32());
    }

    [Fact]
    public unsafe void Event_record_size_matches_the_header()
    {
        Assert.Equal(Struct("fm_event").GetProperty("size").GetInt32(), sizeof(TcpEventRecord));
        Assert.Equal(TcpEventRecord.Size, sizeof(TcpEventRecord));
        Assert.Equal(sizeof(TcpEventRecord), sizeof(TcpEventRecordBuilder));
    }

    [Fact]
    public void Every_event_field_has_the_C_offset()
    {
        var r = default(TcpEventRecord);
        var expected = new (string C, int CSharp)[]
        {
            ("version", Offset(in r, in r.Version)),
            ("kind", Offset(in r, in r.Kind)),
            ("family", Offset(in r, in r.Family)),
            ("old_state", Offset(in r, in r.OldState)),
            ("new_state", Offset(in r, in r.NewState)),
            ("flags", Offset(in r, in r.Flags)),
            ("ts_ns", Offset(in r, in r.TimestampNs)),
            ("sock_cookie", Offset(in r, in r.SocketCookie)),
            ("cgroup_id", Offset(in r, in r.CgroupId)),
            ("netns_ino", Offset(in r, in r.NetNsInode)),
            ("pid", Offset(in r, in r.Pid)),
            ("tgid", Offset(in r, in r.Tgid)),
            ("local_port", Offset(in r, in r.LocalPort)),
            ("remote_port", Offset(in r, in r.RemotePort)),
            ("local_addr", Offset(in r, in r.LocalAddress)),
            ("remote_addr", Offset(in r, in r.RemoteAddress)),
            ("comm", Offset(in r, in r.Comm)),
            ("isn_local", Offset(in r, in r.IsnLocal)),
            ("isn_remote", Offset(in r, in r.IsnRemote)),
            ("bytes_acked", Offset(in r, in r.BytesAcked)),
            ("bytes_received", Offset(in r, in r.BytesReceived)),
            ("segs_out", Offset(in r, in r.SegmentsOut)),
            ("segs_in", Offset(in r, in r.SegmentsIn)),
            ("srtt_us", Offset(in r, in r.SmoothedRttUs)),
            ("total_retrans", Offset(in r, in r.TotalRetransmissions)),
            ("trace_tag", Offset(in r, in r.TraceTag)),
            ("goid", Offset(in r, in r.Goid)),
            ("reason", Offset(in r, in r.Reason)),
            ("sk_err", Offset(in r, in r.SocketError)),
            ("health", Offset(in r, in r.Health)),
        };
        var cFields = Struct("fm_event").GetProperty("fields").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Equal(cFields, expected.Select(e => e.C).ToHashSet());
        foreach (var (c, cs) in expected)
            Assert.True(CField("fm_event", c) == cs, $"fm_event.{c}: C offset {CField("fm_event", c)}, C# offset {cs}");
    }

    [Fact]
    public unsafe void Every_health_field_has_the_C_offset()
    {
        var h = default(TcpHealthRecord);
        Assert.Equal(Struct("fm_health").GetProperty("size").GetInt32(), sizeof(TcpHealthRecord));
        Assert.Equal(TcpHealthRecord.Size, sizeof(TcpHealthRecord));
        var expected = new (string C, int CSharp)[]
        {
            ("delivery_rate", Offset(in h, in h.DeliveryRate)),
            ("bytes_retrans", Offset(in h, in h.BytesRetransmitted)),
            ("min_rtt_us", Offset(in h, in h.MinRttUs)),
            ("rttvar_us", Offset(in h, in h.RttVarUs)),
            ("snd_cwnd", Offset(in h, in h.CongestionWindow)),
            ("dsack_dups", Offset(in h, in h.DsackDuplicates)),
            ("reord_seen", Offset(in h, in h.ReorderingSeen)),
            ("rcv_ooopack", Offset(in h, in h.OutOfOrderPackets)),
            ("drops", Offset(in h, in h.Drops)),
            ("drop_reason", Offset(in h, in h.DropReason)),
            ("retrans_timeout", Offset(in h, in h.RetransmitsTimeout)),
            ("retrans_fast", Offset(in h, in h.RetransmitsFast)),
            ("retrans_probe", Offset(in h, in h.RetransmitsProbe)),
            ("retrans_syn", Offset(in h, in h.RetransmitsSyn)),
        };
        var cFields = Struct("fm_health").GetProperty("fields").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Equal(cFields, expected.Select(e => e.C).ToHashSet());
        foreach (var (c, cs) in expected)
            Assert.True(CField("fm_health", c) == cs, $"fm_health.{c}: C offset {CField("fm_health", c)}, C# offset {cs}");
    }

    [Fact]
    public void Builder_fields_have_the_record_offsets()
    {
        // The builder writes kernel-format bytes; every field must land where the record reads it.
        var b = new TcpEventRecordBuilder
        {
            Version = TcpEventRecord.CurrentVersion, Kind = TcpEventKind.Retransmit, Family = 10, OldState = TcpState.SynSent, NewState = TcpState.Established,
            Flags = TcpEventFlags.Isn | TcpEventFlags.Stats, TimestampNs = 11, SocketCookie = 12, CgroupId = 13, NetNsInode = 14,
            Pid = 15, Tgid = 16, LocalPort = 17, RemotePort = 18, IsnLocal = 19, IsnRemote = 20, BytesAcked = 21, BytesReceived = 22,
            SegmentsOut = 23, SegmentsIn = 24, SmoothedRttUs = 25, TotalRetransmissions = 26, TraceTag = 0x1122334455667788,
            Reason = 30, SocketError = 31,
        };
        b.Health.MinRttUs = 32;
        b.Health.RetransmitsSyn = 33;
        b.Health.DeliveryRate = 34;
        b.LocalAddress[15] = 27;
        b.RemoteAddress[0] = 28;
        b.Comm[3] = 29;
        var bytes = new byte[TcpEventRecord.Size];
        b.WriteTo(bytes);

        Assert.Equal(RecordDecodeResult.Ok, TcpEventRecord.TryRead(bytes, out var r));
        Assert.Equal((TcpEventKind.Retransmit, (byte)10, TcpState.SynSent, TcpState.Established), (r.Kind, r.Family, r.OldState, r.NewState));
        Assert.Equal(TcpEventFlags.Isn | TcpEventFlags.Stats, r.Flags);
        Assert.Equal(new ulong[] { 11, 12, 13, 21, 22 }, new[] { r.TimestampNs, r.SocketCookie, r.CgroupId, r.BytesAcked, r.BytesReceived });
        Assert.Equal(new uint[] { 14, 15, 16, 19, 20, 23, 24, 25, 26 },
            new[] { r.NetNsInode, r.Pid, r.Tgid, r.IsnLocal, r.IsnRemote, r.SegmentsOut, r.SegmentsIn, r.SmoothedRttUs, r.TotalRetransmissions });
        Assert.Equal((17, 18), (r.LocalPort, r.RemotePort));
        Assert.Equal(0x1122334455667788UL, r.TraceTag);
        Assert.Equal((30u, 31u, 32u, 33u, 34UL), (r.Reason, r.SocketError, r.Health.MinRttUs, r.Health.RetransmitsSyn, r.Health.DeliveryRate));
        Assert.Equal((27, 28, 29), (r.LocalAddress[15], r.RemoteAddress[0], r.Comm[3]));
    }

    [Fact]
    public unsafe void Config_record_matches_the_header()
    {
        var c = default(CaptureConfigRecord);
        Assert.Equal(Struct("fm_config").GetProperty("size").GetInt32(), sizeof(CaptureConfigRecord));
        Assert.Equal(CField("fm_config", "netns_ino"), Offset(in c, in c.NetNsInode));
        Assert.Equal(CField("fm_config", "self_tgid"), Offset(in c, in c.SelfTgid));
        Assert.Equal(CField("fm_config", "wakeup_bytes"), Offset(in c, in c.WakeupBytes));
        Assert.Equal(CField("fm_config", "inject_tag"), Offset(in c, in c.InjectTag));
        Assert.Equal(CField("fm_config", "netns_cookie"), Offset(in c, in c.NetNsCookie));
        Assert.Equal(CField("fm_config", "n_include"), Offset(in c, in c.IncludeCount));
        Assert.Equal(CField("fm_config", "n_exclude"), Offset(in c, in c.ExcludeCount));
        Assert.Equal(CField("fm_config", "include_ports"), Offset(in c, in c.IncludePorts));
        Assert.Equal(CField("fm_config", "exclude_ports"), Offset(in c, in c.ExcludePorts));
        Assert.Equal(CField("fm_config", "runtime_flags"), Offset(in c, in c.Runtime));
    }

    [Fact]
    public unsafe void Tag_key_record_matches_the_header()
    {
        var k = default(TagKeyRecord);
        Assert.Equal(Struct("fm_tag_key").GetProperty("size").GetInt32(), sizeof(TagKeyRecord));
        Assert.Equal(CField("fm_tag_key", "k0"), Offset(in k, in k.K0));
        Assert.Equal(CField("fm_tag_key", "k1"), Offset(in k, in k.K1));
        Assert.Equal(CField("fm_tag_key", "enabled"), Offset(in k, in k.Enabled));
    }

    [Fact]
    public unsafe void Listener_record_matches_the_header()
    {
        var l = default(ListenerRecord);
        Assert.Equal(Struct("fm_listener").GetProperty("size").GetInt32(), sizeof(ListenerRecord));
        Assert.Equal(ListenerRecord.Size, sizeof(ListenerRecord));
        Assert.Equal(CField("fm_listener", "netns_ino"), Offset(in l, in l.NetNsInode));
        Assert.Equal(CField("fm_listener", "family"), Offset(in l, in l.Family));
        Assert.Equal(CField("fm_listener", "port"), Offset(in l, in l.Port));
        Assert.Equal(CField("fm_listener", "addr"), Offset(in l, in l.LocalAddress));
        Assert.Equal(CField("fm_listener", "drops"), Offset(in l, in l.Drops));
        Assert.Equal(CField("fm_listener", "backlog"), Offset(in l, in l.Backlog));
        Assert.Equal(CField("fm_listener", "max_backlog"), Offset(in l, in l.MaxBacklog));
    }

    [Fact]
    public unsafe void Counters_record_matches_the_header()
    {
        var k = default(KernelCountersRecord);
        Assert.Equal(Struct("fm_counters").GetProperty("size").GetInt32(), sizeof(KernelCountersRecord));
        Assert.Equal(CField("fm_counters", "existing"), Offset(in k, in k.Existing));
        Assert.Equal(CField("fm_counters", "reserve_failed"), Offset(in k, in k.ReserveFailed));
        Assert.Equal(CField("fm_counters", "no_ring"), Offset(in k, in k.NoRing));
        Assert.Equal(CField("fm_counters", "storage_failed"), Offset(in k, in k.StorageFailed));
        Assert.Equal(CField("fm_counters", "submitted"), Offset(in k, in k.Submitted));
        Assert.Equal(CField("fm_counters", "rq_procs_full"), Offset(in k, in k.RunQueueProcessesFull));
        Assert.Equal(CField("fm_counters", "rq_threads_full"), Offset(in k, in k.RunQueueThreadsFull));
    }

    [Fact]
    public unsafe void Runtime_records_match_the_header()
    {
        var h = default(RuntimeHistogramRecord);
        Assert.Equal(Struct("fm_hist").GetProperty("size").GetInt32(), sizeof(RuntimeHistogramRecord));
        Assert.Equal(RuntimeHistogramRecord.BucketCount, Struct("fm_hist").GetProperty("buckets").GetInt32());
        Assert.Equal(CField("fm_hist", "count"), Offset(in h, in h.Count));
        Assert.Equal(CField("fm_hist", "sum_ns"), Offset(in h, in h.SumNs));
        Assert.Equal(CField("fm_hist", "runnable"), Offset(in h, in h.Runnable));
        Assert.Equal(CField("fm_hist", "buckets"), Offset(in h, in h.Buckets));
        var g = default(GoProcessRecord);
        Assert.Equal(Struct("fm_go_proc").GetProperty("size").GetInt32(), sizeof(GoProcessRecord));
        Assert.Equal(CField("fm_go_proc", "goid_offset"), Offset(in g, in g.GoidOffset));
        Assert.Equal(CField("fm_go_proc", "flags"), Offset(in g, in g.Flags));
        Assert.Equal(CField("fm_go_proc", "g_tracking_offset"), Offset(in g, in g.GTrackingOffset));
        Assert.Equal(CField("fm_go_proc", "g_runnable_stamp_offset"), Offset(in g, in g.GRunnableStampOffset));
        Assert.Equal(CField("fm_go_proc", "sched_addr"), Offset(in g, in g.SchedAddress));
        Assert.Equal(CField("fm_go_proc", "allp_addr"), Offset(in g, in g.AllpAddress));
        Assert.Equal(CField("fm_go_proc", "sched_runqsize_offset"), Offset(in g, in g.SchedRunqSizeOffset));
        Assert.Equal(CField("fm_go_proc", "p_runqhead_offset"), Offset(in g, in g.PRunqHeadOffset));
        Assert.Equal(CField("fm_go_proc", "p_runqtail_offset"), Offset(in g, in g.PRunqTailOffset));
        Assert.Equal(CField("fm_go_proc", "p_runnext_offset"), Offset(in g, in g.PRunnextOffset));
    }

    private static int Offset<TStruct, TField>(in TStruct owner, in TField field) =>
        (int)Unsafe.ByteOffset(ref Unsafe.As<TStruct, byte>(ref Unsafe.AsRef(in owner)), ref Unsafe.As<TField, byte>(ref Unsafe.AsRef(in field)));
}
