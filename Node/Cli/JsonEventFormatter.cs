using System.Globalization;
using System.Text.Json;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Flows;
using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.Cli;

/// <summary>--json: one object per line, states named as in the kernel.</summary>
internal sealed class JsonEventFormatter : EventFormatter
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();
    private readonly Stream _output;
    private readonly Utf8JsonWriter _writer;

    public JsonEventFormatter(Stream output, MonotonicClock clock) : base(clock)
    {
        _output = output;
        _writer = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true });
    }

    public override void Write(in TcpEventRecord r, int cpu)
    {
        var w = _writer;
        w.WriteStartObject();
        w.WriteString("time", Clock.ToWallClock(r.TimestampNs).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture));
        w.WriteNumber("monotonicNs", r.TimestampNs);
        w.WriteNumber("cpu", cpu);
        w.WriteString("event", r.Kind.Name());
        w.WriteString("oldState", r.OldState.KernelName());
        w.WriteString("newState", r.NewState.KernelName());
        w.WriteNumber("cookie", r.SocketCookie);
        w.WriteNumber("netns", r.NetNsInode);
        w.WriteString("family", r.IsIPv6 ? "ipv6" : "ipv4");
        w.WriteString("localAddr", r.LocalIPAddress.ToString());
        w.WriteNumber("localPort", r.LocalPort);
        w.WriteString("remoteAddr", r.RemoteIPAddress.ToString());
        w.WriteNumber("remotePort", r.RemotePort);
        if (r.HasProcess)
        {
            w.WriteNumber("pid", r.Tgid);
            w.WriteNumber("tid", r.Pid);
            w.WriteString("comm", r.CommText);
            w.WriteNumber("cgroupId", r.CgroupId);
            w.WriteString("process", r.Has(TcpEventFlags.Task) ? "task" : "owner");
        }
        w.WriteBoolean("midLife", r.Has(TcpEventFlags.MidLife));
        if (r.Has(TcpEventFlags.NoSocket))
            w.WriteBoolean("noSocket", true);
        if (r.Has(TcpEventFlags.Isn))
        {
            w.WriteNumber("isnLocal", r.IsnLocal);
            w.WriteNumber("isnRemote", r.IsnRemote);
        }
        if (r.TraceTag != 0)
        {
            w.WriteString("tag", r.TraceTag.ToString("x16", CultureInfo.InvariantCulture));
            w.WriteBoolean("tagSent", r.Has(TcpEventFlags.TagSent));
            w.WriteBoolean("tagEchoed", r.Has(TcpEventFlags.TagEchoed));
            w.WriteBoolean("tagReceived", r.Has(TcpEventFlags.TagReceived));
        }
        if (r.Has(TcpEventFlags.Stats))
        {
            w.WriteNumber("bytesAcked", r.BytesAcked);
            w.WriteNumber("bytesReceived", r.BytesReceived);
            w.WriteNumber("segsOut", r.SegmentsOut);
            w.WriteNumber("segsIn", r.SegmentsIn);
            w.WriteNumber("srttUs", r.SmoothedRttUs);
            w.WriteNumber("totalRetrans", r.TotalRetransmissions);
            WriteHealth(w, r.Health);
        }
        if (r.Kind == TcpEventKind.ResetSent)
            w.WriteString("reason", KernelReasonNames.Reset(r.Reason));
        if (r.SocketError != 0)
            w.WriteString("socketError", ErrnoNames.Of(r.SocketError));
        w.WriteEndObject();
        w.Flush();
        w.Reset();
        _output.Write(NewLine);
    }

    private static void WriteHealth(Utf8JsonWriter w, in TcpHealthRecord h)
    {
        w.WriteStartObject("health");
        w.WriteNumber("minRttUs", h.MinRttUs);
        w.WriteNumber("rttVarUs", h.RttVarUs);
        w.WriteNumber("cwnd", h.CongestionWindow);
        w.WriteNumber("deliveryRate", h.DeliveryRate);
        w.WriteNumber("bytesRetrans", h.BytesRetransmitted);
        w.WriteNumber("retransTimeout", h.RetransmitsTimeout);
        w.WriteNumber("retransFast", h.RetransmitsFast);
        w.WriteNumber("retransProbe", h.RetransmitsProbe);
        w.WriteNumber("retransSyn", h.RetransmitsSyn);
        w.WriteNumber("dsackDups", h.DsackDuplicates);
        w.WriteNumber("reordSeen", h.ReorderingSeen);
        w.WriteNumber("rcvOooPack", h.OutOfOrderPackets);
        w.WriteNumber("drops", h.Drops);
        if (h.Drops > 0)
            w.WriteString("dropReason", KernelReasonNames.Drop(h.DropReason));
        w.WriteEndObject();
    }

    public override void Flush() => _output.Flush();

    protected override void DisposeCore() => _writer.Dispose();
}
