using System.Globalization;

namespace FlowMesh.Node.Runtime.Go;

/// <summary>
/// Offsets of <c>runtime.g.goid</c> on amd64 by Go minor version, for binaries linked
/// without DWARF. Each entry was read from the DWARF of a binary of that release (the
/// source is named beside it); a release not listed is not guessed at, because a wrong
/// offset reads another field of g and attributes every connection to a wrong goroutine.
/// </summary>
public static class GoidOffsets
{
    /// <summary>Go minor version (the 19 of go1.19.8) to the offset, amd64 only.</summary>
    private static readonly Dictionary<int, int> _amd64 = new()
    {
        // go1.19.8 (Debian bookworm's golang-1.19): DW_AT_data_member_location 152 in the
        // goserver workload; runtime.g is 392 bytes. GoBinaryTests checks this entry.
        [19] = 152,
        // go1.24.3: 160 (runtime.g is 440 bytes), from the DWARF of the Docker CLI 28.2.2
        // release binary (linked externally; its DWARF also holds gcc's DWARF 5 C units).
        [24] = 160,
    };

    /// <summary>The known offset for a version string such as <c>go1.19.8</c> or <c>go1.24rc1</c>.</summary>
    public static bool TryGet(string goVersion, out int offset)
    {
        offset = 0;
        return TryParseMinor(goVersion, out var minor) && _amd64.TryGetValue(minor, out offset);
    }

    /// <summary>
    /// The minor version of a Go version string: <c>go1.N</c> followed by anything
    /// (<c>.patch</c>, <c>rc1</c>, or a vendor's <c>-20231128-RC02 ... X:boringcrypto</c>),
    /// and the <c>devel go1.N-hash</c> form of toolchains built from source.
    /// </summary>
    public static bool TryParseMinor(string goVersion, out int minor)
    {
        minor = 0;
        var at = goVersion.IndexOf("go1.", StringComparison.Ordinal);
        if (at < 0)
            return false;
        var digits = goVersion.AsSpan(at + 4);
        var end = 0;
        while (end < digits.Length && char.IsAsciiDigit(digits[end]))
            end++;
        return end > 0 && int.TryParse(digits[..end], NumberStyles.None, CultureInfo.InvariantCulture, out minor);
    }
}
