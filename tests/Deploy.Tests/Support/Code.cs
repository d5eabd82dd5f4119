using System.Globalization;
using System.Text.RegularExpressions;

namespace FlowMesh.Deploy.Tests.Support;

/// <summary>
/// Facts read from the code's source, so that a change there (a capability checked at
/// start, the BTF path, the shutdown timeout) shows up here as a failing test instead
/// of as a pod that cannot start.
/// </summary>
internal static partial class Code
{
    private static string CaptureRequirements => Repo.Read("Node", "Kernel", "CaptureRequirements.cs");

    /// <summary>The capabilities CaptureRequirements knows, by name (Bpf, Perfmon, NetAdmin, SysAdmin).</summary>
    public static IReadOnlySet<string> CapabilityConstants =>
        CapabilityConstant().Matches(CaptureRequirements).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// What CaptureRequirements.MissingCapabilities accepts: BPF and PERFMON (or SYS_ADMIN,
    /// which covers both), and NET_ADMIN. Names as Kubernetes writes them: BPF, or CAP_BPF.
    /// </summary>
    public static bool CaptureCanStart(IEnumerable<string> granted)
    {
        var caps = granted.Select(c => c.ToUpperInvariant()).Select(c => c.StartsWith("CAP_", StringComparison.Ordinal) ? c[4..] : c).ToHashSet(StringComparer.Ordinal);
        var sysAdmin = caps.Contains("SYS_ADMIN");
        return (caps.Contains("BPF") || sysAdmin) && (caps.Contains("PERFMON") || sysAdmin) && caps.Contains("NET_ADMIN");
    }

    /// <summary>Where the Node looks for kernel BTF (CaptureRequirements.BtfPath).</summary>
    public static string BtfPath => BtfPathConstant().Match(CaptureRequirements) is { Success: true } m
        ? m.Groups[1].Value
        : throw new InvalidOperationException("BtfPath not found in CaptureRequirements.cs");

    /// <summary>How long a process may take to stop (ProcessHost's HostOptions.ShutdownTimeout).</summary>
    public static TimeSpan ShutdownTimeout => ShutdownTimeoutSetting().Match(Repo.Read("Hosting", "ProcessHost.cs")) is { Success: true } m
        ? TimeSpan.FromSeconds(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
        : throw new InvalidOperationException("ShutdownTimeout not found in ProcessHost.cs");

    /// <summary>The paths the gateway maps with MapGet in the given file of Aggregator/Gateway.</summary>
    public static IReadOnlySet<string> GatewayRoutes(string file) =>
        MapGet().Matches(Repo.Read("Aggregator", "Gateway", file)).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

    /// <summary>The paths GatewayAuth.IsOpen lets through without a token (exact ones).</summary>
    public static IReadOnlySet<string> OpenPaths =>
        OpenPath().Matches(Repo.Read("Aggregator", "Gateway", "GatewayAuth.cs")).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

    /// <summary>The namespace specs NetworkNamespace.Resolve takes literally (self, all).</summary>
    public static IReadOnlySet<string> NamespaceKeywords =>
        SpecLiteral().Matches(Repo.Read("Node", "Kernel", "NetworkNamespace.cs")).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

    /// <summary>Where the Node saves a verifier log when systemd names no logs directory (VerifierLogFile.LogDirectory).</summary>
    public static string VerifierLogDirectory => VerifierLogDirectoryConstant().Match(Repo.Read("Node", "Kernel", "VerifierLogFile.cs")) is { Success: true } m
        ? m.Groups[1].Value
        : throw new InvalidOperationException("LogDirectory not found in VerifierLogFile.cs");

    [GeneratedRegex(@"const\s+int\s+Cap(\w+)\s*=\s*\d+\s*;")]
    private static partial Regex CapabilityConstant();

    [GeneratedRegex(@"BtfPath\s*=\s*""([^""]+)""")]
    private static partial Regex BtfPathConstant();

    [GeneratedRegex(@"ShutdownTimeout\s*=\s*TimeSpan\.FromSeconds\(([\d.]+)\)")]
    private static partial Regex ShutdownTimeoutSetting();

    [GeneratedRegex(@"MapGet\(\s*""([^""]+)""")]
    private static partial Regex MapGet();

    [GeneratedRegex(@"path\s*==\s*""([^""]+)""")]
    private static partial Regex OpenPath();

    [GeneratedRegex(@"LogDirectory\s*=\s*""([^""]+)""")]
    private static partial Regex VerifierLogDirectoryConstant();

    [GeneratedRegex(@"spec\s*==\s*""([^""]+)""")]
    private static partial Regex SpecLiteral();
}
