namespace FlowMesh.Node.Runtime.Go;

/// <summary>
/// One entry of a <c>.debug_abbrev</c> table: the tag and attribute layout shared by
/// every DIE that names this code.
/// </summary>
internal sealed record DwarfAbbreviation(ulong Tag, bool HasChildren, DwarfAttributeSpec[] Attributes)
{
    private const ulong FormImplicitConst = 0x21;

    /// <summary>The table that starts at <paramref name="offset"/>, by abbreviation code.</summary>
    public static Dictionary<ulong, DwarfAbbreviation> ReadTable(ReadOnlySpan<byte> section, ulong offset)
    {
        if (offset >= (ulong)section.Length)
            throw new InvalidDataException($"abbreviation table offset 0x{offset:x} is past .debug_abbrev ({section.Length} bytes)");
        var cursor = new DwarfCursor(section, (int)offset);
        var table = new Dictionary<ulong, DwarfAbbreviation>();
        var specs = new List<DwarfAttributeSpec>();
        while (true)
        {
            var code = cursor.Uleb();
            if (code == 0)
                return table;
            var tag = cursor.Uleb();
            var hasChildren = cursor.U8() != 0;
            specs.Clear();
            while (true)
            {
                var name = cursor.Uleb();
                var form = cursor.Uleb();
                if (name == 0 && form == 0)
                    break;
                specs.Add(new DwarfAttributeSpec(name, form, form == FormImplicitConst ? cursor.Sleb() : 0));
            }
            table[code] = new DwarfAbbreviation(tag, hasChildren, [.. specs]);
        }
    }
}
