using System.Globalization;
using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.Hosting;

/// <summary>
/// TCP figures the kernel keeps only per network namespace, not per socket, read from the
/// captured namespace's /proc/net/netstat at each sweep (<see cref="KernelSweeper"/>) and
/// reported as their growth since the Node started: accept-queue overflows, which a
/// listener's own drop count does not tell from its other drops, and zero-window events,
/// which no per-socket counter or cheap hook sees.
/// </summary>
internal sealed class HostTcpCounters(NetworkNamespace captured)
{
    /// <summary>TcpExt names, in the order of the growth array (and the properties below).</summary>
    private static readonly string[] Names = ["ListenOverflows", "TCPToZeroWindowAdv", "TCPZeroWindowDrop"];

    private readonly long[] _atStart = new long[Names.Length];
    private readonly long[] _growth = new long[Names.Length];
    private bool _started;

    /// <summary>Connections refused because an accept queue was full.</summary>
    public long ListenOverflows => Interlocked.Read(ref _growth[0]);

    /// <summary>Times a socket of the host advertised a zero receive window (its application read too slowly).</summary>
    public long ZeroWindowAdverts => Interlocked.Read(ref _growth[1]);

    /// <summary>Segments dropped because the receive window was zero.</summary>
    public long ZeroWindowDrops => Interlocked.Read(ref _growth[2]);

    public void Read()
    {
        string text;
        try
        {
            // /proc/thread-self/net is the namespace of the reading thread: one inside the captured namespace.
            text = captured.RunInside(() => File.ReadAllText("/proc/thread-self/net/netstat"));
        }
        catch (IOException)
        {
            return; // no procfs here: the figures stay as they were
        }
        for (var i = 0; i < Names.Length; i++)
        {
            if (NetstatValue(text, "TcpExt", Names[i]) is not { } value)
                continue;
            if (!_started)
                _atStart[i] = value;
            Interlocked.Exchange(ref _growth[i], value - _atStart[i]);
        }
        _started = true;
    }

    /// <summary>One counter of /proc/net/netstat: a line of names, then a line of values, both starting "Group:".</summary>
    internal static long? NetstatValue(string text, string group, string name)
    {
        var lines = text.Split('\n');
        for (var i = 0; i + 1 < lines.Length; i++)
        {
            if (!lines[i].StartsWith(group + ":", StringComparison.Ordinal))
                continue;
            var names = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var values = lines[i + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var at = Array.IndexOf(names, name);
            return at > 0 && at < values.Length && long.TryParse(values[at], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;
        }
        return null;
    }
}
