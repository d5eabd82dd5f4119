using System.Globalization;
using System.Text.RegularExpressions;

namespace FlowMesh.Node.Kernel;

/// <summary>
/// Names of the kernel's reason codes: why it dropped a segment (enum skb_drop_reason) and
/// why it sent a reset (enum sk_rst_reason). Their numbers change between kernel versions,
/// so they are read from the running kernel's tracepoint formats, which list each number
/// with its name (<c>__print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, ...)</c>). Without
/// tracefs a reason reads "reason N".
/// </summary>
internal static partial class KernelReasonNames
{
    private static readonly string[] Roots = ["/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"];

    private static readonly Lazy<IReadOnlyDictionary<uint, string>> Drops = new(() => Read("skb/kfree_skb/format"));
    private static readonly Lazy<IReadOnlyDictionary<uint, string>> Resets = new(() => Read("tcp/tcp_send_reset/format"));

    /// <summary>A drop reason's name, e.g. TCP_OLD_DATA.</summary>
    public static string Drop(uint reason) => Name(Drops.Value, reason);

    /// <summary>A reset reason's name, e.g. TCP_ABORT_ON_CLOSE.</summary>
    public static string Reset(uint reason) => Name(Resets.Value, reason);

    private static string Name(IReadOnlyDictionary<uint, string> names, uint reason) =>
        names.TryGetValue(reason, out var name) ? name : "reason " + reason.ToString(CultureInfo.InvariantCulture);

    private static IReadOnlyDictionary<uint, string> Read(string format)
    {
        foreach (var root in Roots)
        {
            try
            {
                return Parse(File.ReadAllText(Path.Combine(root, format)));
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return new Dictionary<uint, string>();
    }

    /// <summary>The number-to-name pairs of a format's symbolic list for its reason field.</summary>
    internal static IReadOnlyDictionary<uint, string> Parse(string formatText)
    {
        var names = new Dictionary<uint, string>();
        var start = formatText.IndexOf("__print_symbolic(REC->reason", StringComparison.Ordinal);
        if (start < 0)
            return names;
        foreach (Match m in SymbolPair().Matches(formatText, start))
        {
            if (uint.TryParse(m.Groups[1].ValueSpan, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
                names.TryAdd(n, m.Groups[2].Value);
        }
        return names;
    }

    [GeneratedRegex("""\{\s*(\d+),\s*"([A-Z0-9_]+)"\s*\}""")]
    private static partial Regex SymbolPair();
}
