using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// What binutils' readelf says about an ELF file, parsed from its text output: the
/// independent truth the Go binary reader is held to (a different implementation of
/// ELF, zlib and DWARF than the one under test).
/// </summary>
internal static partial class Readelf
{
    private static readonly TimeSpan _deadline = TimeSpan.FromMinutes(1);

    public static string Path => ToolRun.Require("readelf", "scripts/install-deps.sh installs binutils");

    /// <summary>
    /// DW_AT_data_member_location of <paramref name="member"/> in the first
    /// DW_TAG_structure_type named <paramref name="structName"/> that has it, from
    /// <c>readelf --debug-dump=info</c>; null when there is none.
    /// </summary>
    public static async Task<long?> MemberOffsetAsync(string binary, string structName, string member) =>
        (await MemberOffsetsAsync(binary, [(structName, member)])).TryGetValue((structName, member), out var offset) ? offset : null;

    /// <summary>
    /// <see cref="MemberOffsetAsync"/> for several members, from one dump; a member no
    /// struct of that name has is absent from the answer.
    /// </summary>
    public static async Task<Dictionary<(string Struct, string Member), long>> MemberOffsetsAsync(
        string binary, IReadOnlyCollection<(string Struct, string Member)> wanted)
    {
        var dump = await ToolRun.OutputAsync(Path, ["--debug-dump=info", binary], _deadline);
        var found = new Dictionary<(string, string), long>();
        var structDepth = -1;  // depth of the struct being read, -1 outside
        var pendingDepth = -1; // a struct DIE whose name is not yet known
        var structName = "";
        var memberName = "";
        var tag = "";
        var depth = 0;
        foreach (var line in dump.AsSpan().EnumerateLines())
        {
            var die = DieLine().Match(line.ToString());
            if (die.Success)
            {
                depth = int.Parse(die.Groups[1].Value, CultureInfo.InvariantCulture);
                tag = die.Groups[2].Value;
                if (structDepth >= 0 && depth <= structDepth)
                    structDepth = -1;
                pendingDepth = tag == "DW_TAG_structure_type" && structDepth < 0 ? depth : -1;
                memberName = "";
                continue;
            }
            var attribute = AttributeLine().Match(line.ToString());
            if (!attribute.Success)
                continue;
            var (name, value) = (attribute.Groups[1].Value, attribute.Groups[2].Value.Trim());
            if (name == "DW_AT_name" && pendingDepth >= 0)
            {
                (structName, structDepth) = (value, pendingDepth);
                pendingDepth = -1;
            }
            else if (name == "DW_AT_name" && structDepth >= 0 && depth == structDepth + 1 && tag == "DW_TAG_member")
            {
                memberName = value;
            }
            else if (name == "DW_AT_data_member_location" && memberName.Length > 0 && wanted.Contains((structName, memberName)))
            {
                found.TryAdd((structName, memberName), long.Parse(value, CultureInfo.InvariantCulture));
            }
        }
        return found;
    }

    /// <summary>Whether <c>readelf -h</c> says the file is ET_DYN (a PIE).</summary>
    public static async Task<bool> IsPositionIndependentAsync(string binary)
    {
        var header = await ToolRun.OutputAsync(Path, ["-hW", binary], _deadline);
        return TypeLine().Match(header) is { Success: true } type
            ? type.Groups[1].Value == "DYN"
            : throw new XunitException($"readelf -h shows no Type for {binary}");
    }

    /// <summary>
    /// A function's entry as a file offset, from <c>readelf -sW</c> (its value) and
    /// <c>readelf -lW</c> (the PT_LOAD whose file image holds it).
    /// </summary>
    public static async Task<ulong> FunctionFileOffsetAsync(string binary, string symbol)
    {
        var address = await SymbolValueAsync(binary, symbol) ?? throw new XunitException($"readelf -s shows no {symbol} in {binary}");
        var headers = await ToolRun.OutputAsync(Path, ["-lW", binary], _deadline);
        foreach (Match load in LoadLine().Matches(headers))
        {
            var offset = Hex(load.Groups[1].Value);
            var vaddr = Hex(load.Groups[2].Value);
            var fileSize = Hex(load.Groups[3].Value);
            if (address >= vaddr && address < vaddr + fileSize)
                return address - vaddr + offset;
        }
        throw new XunitException($"readelf -l shows no PT_LOAD holding {symbol} at 0x{address:x}");
    }

    /// <summary>A symbol's value from <c>readelf -sW</c>, or null when it has none.</summary>
    public static async Task<ulong?> SymbolValueAsync(string binary, string symbol)
    {
        var symbols = await ToolRun.OutputAsync(Path, ["-sW", binary], _deadline);
        foreach (var line in symbols.AsSpan().EnumerateLines())
        {
            var fields = line.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 8 && fields[7] == symbol && fields[0].EndsWith(':'))
                return Hex(fields[1]);
        }
        return null;
    }

    /// <summary>A section's file offset and size from <c>readelf -SW</c>, or null when there is no such section.</summary>
    public static async Task<(long Offset, long Size)?> SectionAsync(string binary, string section)
    {
        var sections = await ToolRun.OutputAsync(Path, ["-SW", binary], _deadline);
        foreach (Match m in SectionLine().Matches(sections))
        {
            if (m.Groups[1].Value == section)
                return ((long)Hex(m.Groups[2].Value), (long)Hex(m.Groups[3].Value));
        }
        return null;
    }

    private static ulong Hex(string text) =>
        ulong.Parse(text.StartsWith("0x", StringComparison.Ordinal) ? text[2..] : text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    // " <2><5e887>: Abbrev Number: 24 (DW_TAG_member)"
    [GeneratedRegex(@"^\s*<(\d+)><[0-9a-f]+>: Abbrev Number: \d+ \((DW_TAG_\w+)\)")]
    private static partial Regex DieLine();

    // "  Type:                              EXEC (Executable file)"
    [GeneratedRegex(@"^\s*Type:\s+(\w+)", RegexOptions.Multiline)]
    private static partial Regex TypeLine();

    // "    <5e88d>   DW_AT_data_member_location: 152"
    [GeneratedRegex(@"^\s*<[0-9a-f]+>\s+(DW_AT_\w+)\s*:\s?(.*)$")]
    private static partial Regex AttributeLine();

    // "  LOAD  0x000000 0x0000000000400000 0x0000000000400000 0x0edc8d 0x0edc8d R E 0x1000"
    [GeneratedRegex(@"^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)", RegexOptions.Multiline)]
    private static partial Regex LoadLine();

    // "  [ 8] .go.buildinfo     PROGBITS        0000000000511000 111000 0000c0 00  WA  0   0 16"
    [GeneratedRegex(@"^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)", RegexOptions.Multiline)]
    private static partial Regex SectionLine();
}
