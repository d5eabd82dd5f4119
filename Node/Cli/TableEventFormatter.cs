using System.Globalization;
using System.Text;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.Cli;

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
