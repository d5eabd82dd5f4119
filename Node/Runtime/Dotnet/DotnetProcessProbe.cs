using System.Globalization;
using System.Text;

namespace FlowMesh.Node.Runtime.Dotnet;

/// <summary>
/// Whether a process runs .NET and where its diagnostics socket is, read from /proc alone.
///
/// The runtime listens on $TMPDIR/dotnet-diagnostic-{pid}-{key}-socket (TMPDIR unset: /tmp),
/// where pid is its own pid (in a container, the last NSpid) and key its start time in clock
/// ticks since boot (/proc/pid/stat field 22, as the process itself reads it). A container has
/// its own /tmp, so the socket is looked for through /proc/{pid}/root, the process's own root.
///
/// Cheap for the common case: one stat of the exact name; the maps are read only when that
/// misses, and the TMPDIR listed only for a .NET process whose exact name was not there.
/// Never throws: a process that vanishes midway is <see cref="DotnetProbeStatus.Gone"/>.
/// </summary>
public static class DotnetProcessProbe
{
    // USER_HZ: the unit of /proc/pid/stat's start time on every Linux architecture .NET runs on.
    private const long ClockTicksPerSecond = 100;

    public static bool IsDotnet(int pid) =>
        Probe(pid).Status is DotnetProbeStatus.Attachable or DotnetProbeStatus.DiagnosticsDisabled or DotnetProbeStatus.NoSocket;

    /// <summary>The diagnostics socket of <paramref name="pid"/>, reachable from the Node's mount namespace; null if there is none.</summary>
    public static string? FindDiagnosticsSocket(int pid) => Probe(pid).SocketPath;

    /// <summary>Whether <paramref name="pid"/> still runs (a zombie, dead but not yet reaped, does not).</summary>
    public static bool IsAlive(int pid)
    {
        var stat = TryRead($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        var close = stat?.LastIndexOf(')') ?? -1;
        return close >= 0 && close + 2 < stat!.Length && stat[close + 2] is not ('Z' or 'X' or 'x');
    }

    public static DotnetProbeResult Probe(int pid)
    {
        var proc = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}";
        if (TryRead(proc + "/status") is not { } status || TryRead(proc + "/stat") is not { } stat)
            return Result(pid, DotnetProbeStatus.Gone, pid, null, 0, $"pid {pid} does not exist");

        var nsPid = NamespacePid(status) ?? pid;
        var (monotonicOffsetNs, boottimeOffsetNs) = TimeNamespaceOffsets(TryRead(proc + "/timens_offsets"));
        var environ = TryRead(proc + "/environ") ?? "";
        var tmpDir = EnvironmentValue(environ, "TMPDIR") is { Length: > 0 } t ? t : "/tmp";
        var socketDir = Path.IsPathRooted(tmpDir) ? proc + "/root" + tmpDir : proc + "/cwd/" + tmpDir;

        if (StartTimeTicks(stat) is { } startTicks)
        {
            var exact = Path.Combine(socketDir, SocketName(nsPid, startTicks + boottimeOffsetNs / (1_000_000_000 / ClockTicksPerSecond)));
            if (File.Exists(exact))
                return Result(pid, DotnetProbeStatus.Attachable, nsPid, exact, monotonicOffsetNs, $"socket {exact}");
        }

        if (!LoadsRuntime(proc))
        {
            return Directory.Exists(proc)
                ? Result(pid, DotnetProbeStatus.NotDotnet, nsPid, null, monotonicOffsetNs, $"pid {pid} has no .NET runtime loaded")
                : Result(pid, DotnetProbeStatus.Gone, nsPid, null, 0, $"pid {pid} exited");
        }
        if (DiagnosticsDisabledBy(environ) is { } setting)
            return Result(pid, DotnetProbeStatus.DiagnosticsDisabled, nsPid, null, monotonicOffsetNs, $"pid {pid} runs .NET with {setting}: it has no diagnostics socket");
        // Another key: a start time read in a time namespace we did not model. Only a socket made
        // since the process started: a killed runtime leaves its socket behind, and pids are reused.
        if (NewestSocket(socketDir, nsPid, StartedUtc(stat)) is { } other)
            return Result(pid, DotnetProbeStatus.Attachable, nsPid, other, monotonicOffsetNs, $"socket {other}");
        return Result(pid, DotnetProbeStatus.NoSocket, nsPid, null, monotonicOffsetNs,
            $"pid {pid} runs .NET but has no dotnet-diagnostic-{nsPid}-*-socket in {tmpDir} (still starting, or DOTNET_DiagnosticPorts moved it)");
    }

    private static DotnetProbeResult Result(int pid, DotnetProbeStatus status, int nsPid, string? socket, long offset, string detail) =>
        new(pid, status, nsPid, socket, offset, detail);

    private static string SocketName(int nsPid, long key) =>
        string.Create(CultureInfo.InvariantCulture, $"dotnet-diagnostic-{nsPid}-{key}-socket");

    /// <summary>The last NSpid value: the pid as the process sees itself.</summary>
    internal static int? NamespacePid(string status)
    {
        foreach (var line in status.Split('\n'))
        {
            if (!line.StartsWith("NSpid:", StringComparison.Ordinal))
                continue;
            var fields = line[6..].Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            return fields.Length > 0 && int.TryParse(fields[^1], NumberStyles.None, CultureInfo.InvariantCulture, out var nsPid) ? nsPid : null;
        }
        return null;
    }

    /// <summary>Field 22 of /proc/pid/stat. The command name (field 2) may hold spaces and parentheses, so fields are counted from its closing one.</summary>
    internal static long? StartTimeTicks(string stat)
    {
        var close = stat.LastIndexOf(')');
        if (close < 0)
            return null;
        var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        const int startTimeAfterComm = 22 - 3;
        return fields.Length > startTimeAfterComm && long.TryParse(fields[startTimeAfterComm], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) ? ticks : null;
    }

    /// <summary>The monotonic and boottime offsets of the process's time namespace, in ns (zeros without one).</summary>
    internal static (long MonotonicNs, long BoottimeNs) TimeNamespaceOffsets(string? offsets)
    {
        long monotonic = 0, boottime = 0;
        foreach (var line in (offsets ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length != 3
                || !long.TryParse(fields[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds)
                || !long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var nanoseconds))
                continue;
            var ns = seconds * 1_000_000_000 + nanoseconds;
            if (fields[0] is "monotonic" or "1")
                monotonic = ns;
            else if (fields[0] is "boottime" or "7")
                boottime = ns;
        }
        return (monotonic, boottime);
    }

    internal static string? EnvironmentValue(string environ, string name)
    {
        foreach (var entry in environ.Split('\0'))
        {
            if (entry.Length > name.Length && entry[name.Length] == '=' && entry.StartsWith(name, StringComparison.Ordinal))
                return entry[(name.Length + 1)..];
        }
        return null;
    }

    /// <summary>The setting that turned the diagnostics socket off, as NAME=VALUE, if one did.</summary>
    internal static string? DiagnosticsDisabledBy(string environ)
    {
        foreach (var name in (ReadOnlySpan<string>)["DOTNET_EnableDiagnostics", "DOTNET_EnableDiagnostics_IPC", "COMPlus_EnableDiagnostics", "COMPlus_EnableDiagnostics_IPC"])
        {
            if (EnvironmentValue(environ, name) is { } value && value.Trim() == "0")
                return $"{name}={value}";
        }
        return null;
    }

    /// <summary>
    /// libcoreclr.so is mapped by every framework-dependent or self-contained app; a single-file
    /// app links the runtime into its host, but its JIT's W^X double mapping still shows.
    /// </summary>
    private static bool LoadsRuntime(string proc)
    {
        try
        {
            foreach (var line in File.ReadLines(proc + "/maps"))
            {
                if (line.EndsWith("/libcoreclr.so", StringComparison.Ordinal) || line.Contains("doublemapper", StringComparison.Ordinal))
                    return true;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return false;
    }

    /// <summary>When the process started, by the wall clock, to the second before (boot time plus its start time).</summary>
    private static DateTime StartedUtc(string stat)
    {
        if (StartTimeTicks(stat) is not { } ticks || TryRead("/proc/stat") is not { } system)
            return DateTime.MinValue;
        foreach (var line in system.Split('\n'))
        {
            if (line.StartsWith("btime ", StringComparison.Ordinal) && long.TryParse(line.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out var bootSeconds))
                return DateTime.UnixEpoch.AddSeconds(bootSeconds + ticks / ClockTicksPerSecond - 1);
        }
        return DateTime.MinValue;
    }

    internal static string? NewestSocket(string directory, int nsPid, DateTime notBeforeUtc)
    {
        try
        {
            string? newest = null;
            var newestTime = notBeforeUtc;
            foreach (var path in Directory.EnumerateFiles(directory, $"dotnet-diagnostic-{nsPid.ToString(CultureInfo.InvariantCulture)}-*-socket"))
            {
                var time = File.GetLastWriteTimeUtc(path);
                if (time > newestTime)
                    (newest, newestTime) = (path, time);
            }
            return newest;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? TryRead(string path)
    {
        try
        {
            // /proc files report size 0: read to the end rather than by length.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 4096);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
