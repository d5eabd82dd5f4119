using System.Text;

namespace FlowMesh.Node.Runtime;

/// <summary>
/// Finds the offset of one member of one named struct in <c>.debug_info</c>, walking the
/// DIEs in place and stopping at the answer.
/// </summary>
/// <remarks>
/// Not LibObjectFile's DWARF reader, though it was tried and does read Go's DWARF once
/// the sections are decompressed (its <c>DwarfFile.ReadFromElf</c> fails on Go binaries:
/// it parses the SHF_COMPRESSED bytes as they are). It builds an object for every DIE:
/// 80 ms and 20 MiB allocated for a 1.8 MB hello-world binary, 0.8 s and 127 MiB for the 15 MB
/// <c>go</c> command, growing with the binary, to answer a question about one member.
/// This walk allocates one abbreviation table per distinct table offset and nothing per DIE.
/// </remarks>
internal static class DwarfStructLayout
{
    private const ulong TagMember = 0x0d;
    private const ulong TagStructureType = 0x13;
    private const ulong AtName = 0x03;
    private const ulong AtDataMemberLocation = 0x38;
    private const ulong AtDeclaration = 0x3c;
    private const byte UnitTypeType = 0x02, UnitTypeSkeleton = 0x04, UnitTypeSplitCompile = 0x05, UnitTypeSplitType = 0x06;

    /// <summary>
    /// The byte offset of <paramref name="member"/> in the first complete definition of
    /// struct <paramref name="structName"/>, or null when no unit defines both.
    /// Throws <see cref="InvalidDataException"/> on malformed DWARF.
    /// </summary>
    public static long? FindMemberOffset(
        ReadOnlySpan<byte> debugInfo, ReadOnlySpan<byte> debugAbbrev, ReadOnlySpan<byte> debugStr, ReadOnlySpan<byte> debugLineStr,
        string structName, string member)
    {
        var structBytes = Encoding.UTF8.GetBytes(structName);
        var memberBytes = Encoding.UTF8.GetBytes(member);
        var tables = new Dictionary<ulong, Dictionary<ulong, DwarfAbbreviation>>();
        var header = new DwarfCursor(debugInfo);
        while (!header.AtEnd)
        {
            var length = (ulong)header.U32();
            var offsetSize = 4;
            if (length == 0xffff_ffff)
            {
                length = header.U64();
                offsetSize = 8;
            }
            else if (length >= 0xffff_fff0)
            {
                throw new InvalidDataException($"reserved unit length 0x{length:x} at 0x{header.Position - 4:x}");
            }
            var bodyStart = header.Position;
            if (length > (ulong)(debugInfo.Length - bodyStart))
                throw new InvalidDataException($"unit at 0x{bodyStart - offsetSize:x} runs past .debug_info");
            var unitEnd = bodyStart + (int)length;
            var unit = new DwarfCursor(debugInfo[..unitEnd], bodyStart);
            header.Position = unitEnd;

            var version = unit.U16();
            if (version is < 2 or > 5)
                continue; // a unit of a DWARF this reader does not know: its length still steps over it
            ulong abbrevOffset;
            int addressSize;
            if (version == 5)
            {
                var unitType = unit.U8();
                addressSize = unit.U8();
                abbrevOffset = unit.Offset(offsetSize);
                if (unitType is UnitTypeSkeleton or UnitTypeSplitCompile)
                    unit.Skip(8);
                else if (unitType is UnitTypeType or UnitTypeSplitType)
                    unit.Skip(8 + (ulong)offsetSize);
            }
            else
            {
                abbrevOffset = unit.Offset(offsetSize);
                addressSize = unit.U8();
            }
            if (!tables.TryGetValue(abbrevOffset, out var table))
                tables[abbrevOffset] = table = DwarfAbbreviation.ReadTable(debugAbbrev, abbrevOffset);

            var format = new DwarfUnitFormat(version, addressSize, offsetSize);
            var found = FindInUnit(ref unit, table, format, debugStr, debugLineStr, structBytes, memberBytes);
            if (found is not null)
                return found;
        }
        return null;
    }

    private static long? FindInUnit(
        ref DwarfCursor unit, Dictionary<ulong, DwarfAbbreviation> table, in DwarfUnitFormat format,
        ReadOnlySpan<byte> debugStr, ReadOnlySpan<byte> debugLineStr, ReadOnlySpan<byte> structName, ReadOnlySpan<byte> member)
    {
        var depth = 0;
        var membersDepth = -1; // depth of the children of the struct being looked into, -1 when none
        while (!unit.AtEnd)
        {
            var code = unit.Uleb();
            if (code == 0)
            {
                depth--;
                if (membersDepth >= 0 && depth < membersDepth)
                    membersDepth = -1; // that definition ended without the member
                continue;
            }
            if (!table.TryGetValue(code, out var abbrev))
                throw new InvalidDataException($"DIE at 0x{unit.Position:x} names abbreviation {code}, which its table lacks");

            var isStruct = abbrev.Tag == TagStructureType && abbrev.HasChildren && membersDepth < 0;
            var isMember = abbrev.Tag == TagMember && depth == membersDepth;
            var nameMatches = false;
            var isDeclaration = false;
            long? offset = null;
            foreach (var spec in abbrev.Attributes)
            {
                if (spec.Name == AtName && (isStruct || isMember))
                {
                    var name = DwarfForms.ReadName(ref unit, spec.Form, format, debugStr, debugLineStr);
                    nameMatches = name.SequenceEqual(isStruct ? structName : member);
                }
                else if (spec.Name == AtDataMemberLocation && isMember)
                {
                    if (DwarfForms.TryReadMemberOffset(ref unit, spec, format, out var value))
                        offset = value;
                }
                else if (spec.Name == AtDeclaration && isStruct)
                {
                    // A declaration only names the type; its members are in the definition.
                    isDeclaration = DwarfForms.ReadFlag(ref unit, spec.Form, format);
                }
                else
                {
                    DwarfForms.Skip(ref unit, spec.Form, format);
                }
            }
            if (isStruct && nameMatches && !isDeclaration)
                membersDepth = depth + 1;
            else if (isMember && nameMatches)
                return offset ?? throw new InvalidDataException($"{Encoding.UTF8.GetString(structName)}.{Encoding.UTF8.GetString(member)} has no constant DW_AT_data_member_location");
            if (abbrev.HasChildren)
                depth++;
        }
        return null;
    }
}
