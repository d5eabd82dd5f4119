using System.Text;
using FlowMesh.Node.Runtime.Go;

namespace FlowMesh.Node.UnitTests;

/// <summary>The one-walk member search over hand-made DWARF 4 units, for the cases a Go binary does not show.</summary>
public sealed class DwarfStructLayoutTests
{
    private const byte CompileUnit = 1, Struct = 2, Member = 3, Unknown = 9;

    // DW_TAG_compile_unit with children; DW_TAG_structure_type: DW_AT_name string, DW_AT_declaration flag;
    // DW_TAG_member: DW_AT_name string, DW_AT_data_member_location data2.
    private static readonly byte[] _abbrev =
    [
        CompileUnit, 0x11, 1, 0, 0,
        Struct, 0x13, 1, 0x03, 0x08, 0x3c, 0x0c, 0, 0,
        Member, 0x0d, 0, 0x03, 0x08, 0x38, 0x05, 0, 0,
        0,
    ];

    private static readonly DwarfMember _ta = new("T", "a"), _tc = new("T", "c"), _ub = new("U", "b"), _um = new("U", "missing");

    // Unit 1: a declaration of T (whose member must be ignored), T with a only, U with b and c.
    // Unit 2: T again with a and c, so T.c is only there.
    private static readonly byte[] _wellFormed =
    [
        .. Unit(
            [CompileUnit,
            .. StructDie("T", declaration: true, MemberDie("a", 99)),
            .. StructDie("T", declaration: false, MemberDie("a", 1)),
            .. StructDie("U", declaration: false, [.. MemberDie("b", 2), .. MemberDie("c", 77)]),
            0]),
        .. Unit(
            [CompileUnit,
            .. StructDie("T", declaration: false, [.. MemberDie("a", 55), .. MemberDie("c", 300)]),
            0]),
    ];

    // Then a unit whose DIE names an abbreviation the table lacks: reading it throws.
    private static readonly byte[] _info = [.. _wellFormed, .. Unit([Unknown])];

    [Fact]
    public void Each_member_comes_from_the_first_definition_of_its_own_struct_that_has_it()
    {
        Assert.Equal(new Dictionary<DwarfMember, long> { [_ta] = 1, [_tc] = 300, [_ub] = 2 }, Find(_ta, _tc, _ub, _ta));
    }

    [Fact]
    public void A_member_no_struct_has_is_absent_from_the_answer()
    {
        Assert.Equal(new Dictionary<DwarfMember, long> { [_ub] = 2 }, DwarfStructLayout.FindMemberOffsets(_wellFormed, _abbrev, [], [], [_ub, _um]));
    }

    [Fact]
    public void The_walk_stops_once_everything_asked_for_is_found()
    {
        Assert.Equal(2, Find(_ta, _ub).Count);
        Assert.Equal(300, Find(_tc)[_tc]);
        // With one member missing it goes on into the last unit.
        Assert.Throws<InvalidDataException>(() => Find(_tc, _um));
    }

    [Fact]
    public void Asking_for_nothing_reads_nothing()
    {
        Assert.Empty(DwarfStructLayout.FindMemberOffsets([0xff], _abbrev, [], [], []));
    }

    private static Dictionary<DwarfMember, long> Find(params DwarfMember[] wanted) =>
        DwarfStructLayout.FindMemberOffsets(_info, _abbrev, [], [], wanted);

    private static byte[] Unit(byte[] dies)
    {
        // unit_length, version 4, debug_abbrev_offset 0, address_size 8
        var header = new byte[11];
        BitConverter.TryWriteBytes(header.AsSpan(0), (uint)(dies.Length + 7));
        BitConverter.TryWriteBytes(header.AsSpan(4), (ushort)4);
        header[10] = 8;
        return [.. header, .. dies];
    }

    private static byte[] StructDie(string name, bool declaration, byte[] members) =>
        [Struct, .. Encoding.UTF8.GetBytes(name), 0, declaration ? (byte)1 : (byte)0, .. members, 0];

    private static byte[] MemberDie(string name, ushort offset) =>
        [Member, .. Encoding.UTF8.GetBytes(name), 0, (byte)offset, (byte)(offset >> 8)];
}
