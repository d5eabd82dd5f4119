using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// What <c>ss -ti</c> (iproute2, which reads the kernel's tcp_info) says of one socket: the
/// truth the TCP health fields are held against. Fields ss leaves out when they are zero
/// read as zero.
/// </summary>
internal sealed partial record SsSocketInfo(
    double MinRttMs, double RttMs, double RttVarMs, uint Cwnd, double DeliveryRateBitsPerSecond,
    ulong BytesRetransmitted, uint RetransmitsTotal, uint DsackDups, uint ReorderingSeen, uint OutOfOrderPackets, string Text)
{
    /// <summary>The socket from <paramref name="localPort"/> to <paramref name="remotePort"/> inside <paramref name="host"/>.</summary>
    public static async Task<SsSocketInfo> ReadAsync(TestNamespace host, int localPort, int remotePort)
    {
        var text = await ToolRun.OutputAsync("ip",
            ["netns", "exec", host.Name, "ss", "-tinH", "state", "all", $"( sport = :{localPort} and dport = :{remotePort} )"],
            TimeSpan.FromSeconds(10));
        if (string.IsNullOrWhiteSpace(text))
            throw new XunitException($"ss shows no socket {localPort}->{remotePort} in {host.Name}");
        return Parse(text);
    }

    public static SsSocketInfo Parse(string text)
    {
        var rtt = RttPair().Match(text);
        var retrans = Retrans().Match(text);
        return new SsSocketInfo(
            Number(text, "minrtt"),
            rtt.Success ? double.Parse(rtt.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
            rtt.Success ? double.Parse(rtt.Groups[2].Value, CultureInfo.InvariantCulture) : 0,
            (uint)Number(text, "cwnd"),
            DeliveryRate(text),
            (ulong)Number(text, "bytes_retrans"),
            retrans.Success ? uint.Parse(retrans.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
            (uint)Number(text, "dsack_dups"),
            (uint)Number(text, "reord_seen"),
            (uint)Number(text, "rcv_ooopack"),
            text.Trim());
    }

    private static double Number(string text, string field)
    {
        var m = Regex.Match(text, $@"(?<![a-z_]){field}:([0-9.]+)");
        return m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>ss prints rates with a unit prefix and one decimal: "delivery_rate 1.2Gbps".</summary>
    private static double DeliveryRate(string text)
    {
        var m = Rate().Match(text);
        if (!m.Success)
            return 0;
        var value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return value * m.Groups[2].Value switch { "K" => 1e3, "M" => 1e6, "G" => 1e9, "T" => 1e12, _ => 1 };
    }

    [GeneratedRegex(@"\brtt:([0-9.]+)/([0-9.]+)")]
    private static partial Regex RttPair();

    [GeneratedRegex(@"\bretrans:\d+/(\d+)")]
    private static partial Regex Retrans();

    [GeneratedRegex(@"\bdelivery_rate ([0-9.]+)([KMGT]?)bps")]
    private static partial Regex Rate();
}
