using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// tcpdump on one host's end of the wire, writing a pcap file: the wire's own account
/// of every packet, to hold FlowMesh's view against. Started before the traffic,
/// stopped with SIGTERM after it; <see cref="StopAsync"/> says whether the account is
/// complete and <see cref="ReadAsync"/> reads it back as packets.
/// </summary>
internal sealed partial class WireCapture : IAsyncDisposable
{
    public const string Binary = "/usr/bin/tcpdump";

    private readonly NamespaceProgram _tcpdump;

    private WireCapture(NamespaceProgram tcpdump, string host, string file) => (_tcpdump, Host, File) = (tcpdump, host, file);

    /// <summary>The host it captures on (for messages).</summary>
    public string Host { get; }

    /// <summary>The pcap file it writes.</summary>
    public string File { get; }

    /// <summary>Fails the test, saying what to install, if tcpdump is missing.</summary>
    public static void Require()
    {
        if (!System.IO.File.Exists(Binary))
            throw new XunitException($"{Binary} not found: the wire-fidelity test reads the truth from tcpdump; install Debian's tcpdump (scripts/install-deps.sh does)");
    }

    /// <summary>
    /// Starts tcpdump inside <paramref name="ns"/> on <paramref name="device"/>, for TCP on
    /// these ports only; returns once it listens. Name the file *.pcap: where AppArmor is
    /// on, Debian's profile for tcpdump lets it write only files named so.
    /// </summary>
    public static async Task<WireCapture> StartAsync(TestNamespace ns, string host, string device, string file, IEnumerable<int> ports)
    {
        Require();
        var filter = "tcp and (" + string.Join(" or ", ports.Select(p => string.Create(CultureInfo.InvariantCulture, $"port {p}"))) + ")";
        // -U writes each packet to the file as tcpdump gets it, and the kernel hands over
        // what its ring holds within tcpdump's 1 s timeout: a stop that comes seconds after
        // the traffic finds nothing unwritten (StopAsync's counts prove it). -s 200 keeps
        // every header and little else: libpcap sizes the frames of its ring to the snapshot
        // length, so at the default (256 KiB) a 16 MiB ring (-B) holds few packets and a
        // burst of connections overflows it (measured in immediate mode: 13% dropped by the
        // kernel at redis-benchmark's rate); at 200 bytes none were.
        var tcpdump = NamespaceProgram.Start(ns, $"tcpdump on {host}",
            Binary, "-i", device, "-nn", "-S", "-tt", "-U", "-s", "200", "-B", "16384", "-w", file, filter);
        try
        {
            await tcpdump.WaitForLineAsync(l => l.StartsWith("tcpdump: listening on ", StringComparison.Ordinal), "\"listening on\" line", TimeSpan.FromSeconds(10));
        }
        catch
        {
            await tcpdump.DisposeAsync();
            throw;
        }
        return new WireCapture(tcpdump, host, file);
    }

    /// <summary>SIGTERM, as a user ends tcpdump; returns its counts once it has exited and written them.</summary>
    public async Task<CaptureStats> StopAsync()
    {
        _tcpdump.Signal(ProcessControl.SigTerm);
        var exit = await _tcpdump.WaitForExitAsync(TimeSpan.FromSeconds(10));
        if (exit != 0)
            throw new XunitException($"{_tcpdump.What} exited {exit}: {_tcpdump.Output()}");
        long Count(string what)
        {
            var line = _tcpdump.Stderr.FirstOrDefault(l => l.EndsWith(" " + what, StringComparison.Ordinal))
                ?? throw new XunitException($"{_tcpdump.What} did not say how many {what}: {_tcpdump.Output()}");
            return long.Parse(line[..line.IndexOf(' ', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
        }
        return new CaptureStats(Host, Count("packets captured"), Count("packets received by filter"), Count("packets dropped by kernel"));
    }

    /// <summary>Reads the pcap back (<c>tcpdump -r FILE -nn -S -tt</c>) and parses every line; a line that is not a TCP packet fails the test.</summary>
    public async Task<IReadOnlyList<WirePacket>> ReadAsync()
    {
        var info = new ProcessStartInfo(Binary);
        foreach (var a in new[] { "-r", File, "-nn", "-S", "-tt" })
            info.ArgumentList.Add(a);
        var (exit, stdout, stderr) = await NodeCommand.RunAsync(info);
        if (exit != 0)
            throw new XunitException($"tcpdump -r {File} exited {exit}: {stderr.Trim()}");
        var packets = new List<WirePacket>();
        var unparsed = new List<string>();
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (WirePacket.TryParse(line, out var packet))
                packets.Add(packet);
            else
                unparsed.Add(line);
        }
        if (unparsed.Count > 0)
            throw new XunitException($"{unparsed.Count} of {unparsed.Count + packets.Count} lines of {Host}'s capture are not TCP packets this test can read, e.g.:\n{string.Join("\n", unparsed.Take(5))}");
        return packets;
    }

    public ValueTask DisposeAsync() => _tcpdump.DisposeAsync();
}

/// <summary>tcpdump's closing counts: the truth is complete only if it kept every packet the filter took and the kernel dropped none.</summary>
internal readonly record struct CaptureStats(string Host, long Captured, long ReceivedByFilter, long DroppedByKernel)
{
    public bool Complete => DroppedByKernel == 0 && Captured == ReceivedByFilter;

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Host}: {Captured} captured, {ReceivedByFilter} received by filter, {DroppedByKernel} dropped by kernel");
}

/// <summary>
/// One captured packet as <c>tcpdump -nn -S -tt</c> prints it (absolute sequence
/// numbers). With veth's GSO and GRO one packet can carry many segments: its sequence
/// range says how much, never the number of packets.
/// </summary>
internal readonly partial record struct WirePacket(long TimeUs, string Source, int SourcePort, string Destination, int DestinationPort,
    string Flags, uint? Seq, uint? SeqEnd, uint? Ack, int Length)
{
    public bool Syn => Flags.Contains('S', StringComparison.Ordinal);
    public bool Fin => Flags.Contains('F', StringComparison.Ordinal);
    public bool Rst => Flags.Contains('R', StringComparison.Ordinal);
    public bool HasAck => Flags.Contains('.', StringComparison.Ordinal);

    /// <summary>The sequence number just past this packet's data: where its FIN sits, if it has one.</summary>
    public uint? End => SeqEnd ?? Seq;

    // 1796155952.344595 IP 10.213.250.1.53544 > 10.213.250.2.7002: Flags [P.], seq 4190486557:4190486657, ack 2793814001, win 63, options [...], length 100
    [GeneratedRegex(@"^(?<sec>\d+)\.(?<usec>\d{6}) IP (?<src>\d+\.\d+\.\d+\.\d+)\.(?<sport>\d+) > (?<dst>\d+\.\d+\.\d+\.\d+)\.(?<dport>\d+): Flags \[(?<flags>[^\]]*)\](?:, seq (?<seq>\d+)(?::(?<end>\d+))?)?(?:, ack (?<ack>\d+))?,.*?\blength (?<length>\d+)")]
    private static partial Regex Line();

    public static bool TryParse(string line, out WirePacket packet)
    {
        packet = default;
        var m = Line().Match(line);
        if (!m.Success)
            return false;
        static uint? Number(Group g) => g.Success ? uint.Parse(g.Value, CultureInfo.InvariantCulture) : null;
        static int Int(Group g) => int.Parse(g.Value, CultureInfo.InvariantCulture);
        packet = new WirePacket(
            long.Parse(m.Groups["sec"].Value, CultureInfo.InvariantCulture) * 1_000_000 + long.Parse(m.Groups["usec"].Value, CultureInfo.InvariantCulture),
            m.Groups["src"].Value, Int(m.Groups["sport"]), m.Groups["dst"].Value, Int(m.Groups["dport"]),
            m.Groups["flags"].Value, Number(m.Groups["seq"]), Number(m.Groups["end"]), Number(m.Groups["ack"]), Int(m.Groups["length"]));
        return true;
    }
}
