using System.Globalization;
using System.Runtime.InteropServices;
using FlowMesh.Node.Kernel.Native;

namespace FlowMesh.Node.Kernel;

/// <summary>
/// Checks, before anything is loaded, that this machine can run the capture, so that
/// a missing piece is reported as one line saying what is missing and how to fix it
/// instead of as an errno from deep inside libbpf.
/// </summary>
public static class CaptureRequirements
{
    public const string BtfPath = "/sys/kernel/btf/vmlinux";

    private const int CapNetAdmin = 12;
    private const int CapSysAdmin = 21;
    private const int CapPerfmon = 38;
    private const int CapBpf = 39;

    /// <summary>Throws <see cref="CaptureStartException"/> naming the first missing requirement.</summary>
    public static void Check(CaptureOptions options)
    {
        if (!OperatingSystem.IsLinux())
            throw new CaptureStartException("FlowMesh capture runs on Linux only (kernel 5.15 or newer, with BTF)");

        var missing = MissingCapabilities(ReadEffectiveCapabilities());
        if (missing.Count > 0)
        {
            throw new CaptureStartException(
                $"missing {string.Join(", ", missing)} (running as uid {LibC.geteuid()}): run as root (sudo), " +
                "or grant CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (e.g. systemd AmbientCapabilities=)");
        }

        if (!File.Exists(BtfPath))
            throw new CaptureStartException($"kernel BTF not found at {BtfPath}: FlowMesh needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, Fedora and RHEL kernels have it)");

        if (FindCgroup2Mount() is null)
            throw new CaptureStartException("cgroup v2 is not mounted (no cgroup2 entry in /proc/mounts): mount it with `mount -t cgroup2 none /sys/fs/cgroup/unified`");

        var objectPath = options.ResolvedBpfObjectPath;
        if (!File.Exists(objectPath))
            throw new CaptureStartException($"BPF object {objectPath} not found: rebuild with `dotnet build Node` (needs clang, llvm, libbpf-dev and bpftool; run scripts/install-deps.sh)");

        if (!NativeLibrary.TryLoad("libbpf.so.1", out _))
            throw new CaptureStartException("libbpf.so.1 not found: install Debian's libbpf1 (`apt-get install libbpf1`)");
    }

    /// <summary>The capabilities capture needs that <paramref name="effective"/> lacks, by name.</summary>
    public static IReadOnlyList<string> MissingCapabilities(ulong effective)
    {
        bool Has(int cap) => (effective & (1UL << cap)) != 0;
        var missing = new List<string>();
        // Before 5.8 CAP_SYS_ADMIN covered BPF and perf; it still does.
        if (!Has(CapBpf) && !Has(CapSysAdmin))
            missing.Add("CAP_BPF");
        if (!Has(CapPerfmon) && !Has(CapSysAdmin))
            missing.Add("CAP_PERFMON");
        if (!Has(CapNetAdmin))
            missing.Add("CAP_NET_ADMIN");
        return missing;
    }

    /// <summary>The CapEff mask of this process, from /proc/self/status.</summary>
    public static ulong ReadEffectiveCapabilities()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                return ulong.Parse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        }
        return 0;
    }

    /// <summary>Where cgroup v2 is mounted: /sys/fs/cgroup on unified hosts, often /sys/fs/cgroup/unified on hybrid ones.</summary>
    public static string? FindCgroup2Mount()
    {
        foreach (var line in File.ReadLines("/proc/mounts"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 2 && fields[2] == "cgroup2")
                return fields[1];
        }
        return null;
    }
}
