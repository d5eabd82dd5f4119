using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Flows;
using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.Cli;

/// <summary>Writes capture records, one per line, as a table row or a JSON object.</summary>
internal abstract class EventFormatter(MonotonicClock clock) : IDisposable
{
    protected MonotonicClock Clock { get; } = clock;

    public virtual void WriteHeader() { }

    public abstract void Write(in TcpEventRecord record, int cpu);

    public abstract void Flush();

    public void Dispose()
    {
        DisposeCore();
        GC.SuppressFinalize(this);
    }

    protected virtual void DisposeCore() { }

    protected static string Endpoint(IPAddress address, ushort port, bool ipv6) =>
        ipv6 ? $"[{address}]:{port}" : $"{address}:{port}";
}

/// <summary>The default output: aligned columns people can read as events scroll by.</summary>
internal sealed class TableEventFormatter(TextWriter output, MonotonicClock clock, bool color) : EventFormatter(clock)
{
    private static readonly CompositeFormat Format = CompositeFormat.Parse("{0,-15} {1,3} {2,7} {3,-15} {4,-22} {5,-22} {6,-26} {7}");
    private readonly StringBuilder _line = new(256);

    public override void WriteHeader() =>
        output.WriteLine(string.Format(CultureInfo.InvariantCulture, Format, "TIME", "CPU", "PID", "COMM", "LOCAL", "REMOTE", "EVENT", "DETAIL"));

    public override void Write(in TcpEventRecord r, int cpu)
    {
        var time = Clock.ToWallClock(r.TimestampNs).ToLocalTime().ToString("HH:mm:ss.ffffff", CultureInfo.InvariantCulture);
        var pid = r.HasProcess ? r.Tgid.ToString(CultureInfo.InvariantCulture) : "-";
        var comm = r.HasProcess ? r.CommText : "-";
        var local = Endpoint(r.LocalIPAddress, r.LocalPort, r.IsIPv6);
        var remote = r.Has(TcpEventFlags.NoSocket) || r.RemotePort != 0 || r.NewState != TcpState.Listen
            ? Endpoint(r.RemoteIPAddress, r.RemotePort, r.IsIPv6)
            : "*";
        var (eventText, colorCode) = Describe(r);
        if (color && colorCode is not null)
            eventText = $"\u001b[{colorCode}m{eventText,-26}\u001b[0m";
        output.WriteLine(string.Format(CultureInfo.InvariantCulture, Format, time, cpu, pid, comm, local, remote, eventText, Detail(r)));
    }

    public override void Flush() => output.Flush();

    private static (string Text, string? Color) Describe(in TcpEventRecord r) => r.Kind switch
    {
        TcpEventKind.State => ($"{r.OldState.ShortName()} -> {r.NewState.ShortName()}", StateColor(r.NewState)),
        TcpEventKind.Retransmit => ("RETRANSMIT", "33"),
        TcpEventKind.ResetSent => ("RST sent", "31"),
        TcpEventKind.ResetReceived => ("RST received", "31"),
        TcpEventKind.Existing => ($"open: {r.NewState.ShortName()}", "36"),
        TcpEventKind.TagEchoed => ("tag echoed", "36"),
        TcpEventKind.Accepted => ("accepted", "32"),
        TcpEventKind.Report => ("report", "90"),
        _ => ("?", null),
    };

    private static string? StateColor(TcpState s) => s switch
    {
        TcpState.Established => "32",
        TcpState.Close => "90",
        TcpState.Listen => "36",
        _ => null,
    };

    private static string TagState(in TcpEventRecord r) =>
        r.Has(TcpEventFlags.TagReceived) ? "received" : r.Has(TcpEventFlags.TagEchoed) ? "echoed" : "sent";

    private string Detail(in TcpEventRecord r)
    {
        _line.Clear();
        if (r.Has(TcpEventFlags.NoSocket))
            _line.Append("no socket on this port ");
        if (r.Kind is TcpEventKind.Retransmit or TcpEventKind.ResetSent or TcpEventKind.ResetReceived && !r.Has(TcpEventFlags.NoSocket))
            _line.Append("in ").Append(r.NewState.ShortName()).Append(' ');
        if (r.Kind == TcpEventKind.State && r.NewState == TcpState.Established && r.Has(TcpEventFlags.Isn))
            _line.Append(CultureInfo.InvariantCulture, $"isn {r.IsnLocal}/{r.IsnRemote} ");
        var ending = r.Kind == TcpEventKind.State && r.NewState == TcpState.Close;
        if (r.Has(TcpEventFlags.Stats) && (ending || r.Kind is TcpEventKind.Existing or TcpEventKind.Retransmit))
        {
            _line.Append(CultureInfo.InvariantCulture,
                $"acked {r.BytesAcked}B recv {r.BytesReceived}B segs {r.SegmentsOut}/{r.SegmentsIn} srtt {r.SmoothedRttUs}us retrans {r.TotalRetransmissions} ");
        }
        if (r.TraceTag != 0 && ((r.Kind == TcpEventKind.State && r.NewState is TcpState.Established or TcpState.Close) || r.Kind == TcpEventKind.TagEchoed))
            _line.Append(CultureInfo.InvariantCulture, $"tag {r.TraceTag:x16} {TagState(r)} ");
        if (r.Has(TcpEventFlags.MidLife))
            _line.Append("(mid-life) ");
        return _line.ToString().TrimEnd();
    }
}

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
