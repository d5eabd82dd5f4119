using System.Buffers.Binary;
using System.Text;

namespace FlowMesh.Node.Runtime.Go;

/// <summary>
/// The Go toolchain version a binary was built by, as <c>go version FILE</c> reads it:
/// from <c>.go.buildinfo</c>, else from the <c>runtime.buildVersion</c> string.
/// </summary>
internal static class GoBuildInfo
{
    public const string SectionName = ".go.buildinfo";

    private const int HeaderSize = 32;
    private const byte FlagBigEndian = 1;
    private const byte FlagInlineStrings = 2;
    private const int MaxVersionLength = 256;

    // Not "\xff Go buildinf:"u8: a UTF-8 literal would encode U+00FF as two bytes.
    private static readonly byte[] _magic = [0xff, .. " Go buildinf:"u8];

    /// <summary>The version, or null when the binary says none (then it is not taken for Go).</summary>
    public static string? ReadVersion(ElfImage elf) => FromSection(elf) ?? FromSymbol(elf);

    /// <summary>
    /// Go 1.18 and later write the strings inline after a 32-byte header (magic, pointer
    /// size, flags with bit 2 set): a uvarint length, then the version. Earlier releases
    /// put two pointers there instead; those binaries have the same string behind
    /// <c>runtime.buildVersion</c>, so they are read through the symbol.
    /// </summary>
    private static string? FromSection(ElfImage elf)
    {
        var head = elf.ReadSectionPrefix(SectionName, HeaderSize + 10 + MaxVersionLength);
        if (head is null || head.Length < HeaderSize || !head.AsSpan(0, _magic.Length).SequenceEqual(_magic))
            return null;
        var flags = head[_magic.Length + 1];
        if ((flags & FlagInlineStrings) == 0 || (flags & FlagBigEndian) != 0)
            return null;
        var cursor = new DwarfCursor(head, HeaderSize); // a uvarint is a ULEB128
        var length = cursor.Uleb();
        if (length is 0 or > MaxVersionLength)
            throw new InvalidDataException($"{SectionName} holds a version string of {length} bytes");
        return Checked(cursor.Take(length), SectionName);
    }

    /// <summary><c>runtime.buildVersion</c> is a Go string header: data pointer, then length.</summary>
    private static string? FromSymbol(ElfImage elf)
    {
        var address = elf.ObjectAddress("runtime.buildVersion");
        if (address == 0)
            return null;
        var header = elf.ReadAt(address, 16);
        var data = BinaryPrimitives.ReadUInt64LittleEndian(header);
        var length = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(8));
        if (length is 0 or > MaxVersionLength)
            throw new InvalidDataException($"runtime.buildVersion is {length} bytes long");
        return Checked(elf.ReadAt(data, (int)length), "runtime.buildVersion");
    }

    private static string Checked(ReadOnlySpan<byte> version, string where)
    {
        foreach (var b in version)
        {
            if (b is < 0x20 or > 0x7e)
                throw new InvalidDataException($"{where} holds a version that is not printable text");
        }
        return Encoding.ASCII.GetString(version);
    }
}
