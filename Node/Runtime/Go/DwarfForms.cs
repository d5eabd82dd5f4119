namespace FlowMesh.Node.Runtime.Go;

/// <summary>
/// The attribute forms of DWARF 2 to 5: how many bytes each takes (so that any DIE can be
/// stepped over without knowing its meaning), and the few values the Go reader needs
/// (names and member offsets). Go's own units use few forms, but an externally linked
/// binary also carries gcc's DWARF 5 C units, whose DIEs must be skipped correctly.
/// </summary>
internal static class DwarfForms
{
    private const ulong Addr = 0x01, Block2 = 0x03, Block4 = 0x04, Data2 = 0x05, Data4 = 0x06, Data8 = 0x07;
    private const ulong String = 0x08, Block = 0x09, Block1 = 0x0a, Data1 = 0x0b, Flag = 0x0c, Sdata = 0x0d;
    private const ulong Strp = 0x0e, Udata = 0x0f, RefAddr = 0x10, Ref1 = 0x11, Ref2 = 0x12, Ref4 = 0x13;
    private const ulong Ref8 = 0x14, RefUdata = 0x15, Indirect = 0x16, SecOffset = 0x17, Exprloc = 0x18;
    private const ulong FlagPresent = 0x19, Strx = 0x1a, Addrx = 0x1b, RefSup4 = 0x1c, StrpSup = 0x1d;
    private const ulong Data16 = 0x1e, LineStrp = 0x1f, RefSig8 = 0x20, ImplicitConst = 0x21, Loclistx = 0x22;
    private const ulong Rnglistx = 0x23, RefSup8 = 0x24, Strx1 = 0x25, Strx4 = 0x28, Addrx1 = 0x29, Addrx4 = 0x2c;
    private const ulong GnuAddrIndex = 0x1f01, GnuStrIndex = 0x1f02, GnuRefAlt = 0x1f20, GnuStrpAlt = 0x1f21;

    private const byte OpPlusUconst = 0x23;

    /// <summary>Steps over one attribute value.</summary>
    public static void Skip(ref DwarfCursor cursor, ulong form, in DwarfUnitFormat unit)
    {
        switch (form)
        {
            case FlagPresent or ImplicitConst:
                return;
            case Data1 or Ref1 or Flag:
                cursor.Skip(1);
                return;
            case Data2 or Ref2:
                cursor.Skip(2);
                return;
            case Data4 or Ref4 or RefSup4:
                cursor.Skip(4);
                return;
            case Data8 or Ref8 or RefSig8 or RefSup8:
                cursor.Skip(8);
                return;
            case Data16:
                cursor.Skip(16);
                return;
            case >= Strx1 and <= Strx4:
                cursor.Skip(form - Strx1 + 1);
                return;
            case >= Addrx1 and <= Addrx4:
                cursor.Skip(form - Addrx1 + 1);
                return;
            case Addr:
                cursor.Skip((ulong)unit.AddressSize);
                return;
            case RefAddr:
                // DWARF 2 sized DW_FORM_ref_addr like an address; 3 and later like an offset.
                cursor.Skip((ulong)(unit.Version <= 2 ? unit.AddressSize : unit.OffsetSize));
                return;
            case Strp or LineStrp or SecOffset or StrpSup or GnuRefAlt or GnuStrpAlt:
                cursor.Skip((ulong)unit.OffsetSize);
                return;
            case Sdata:
                cursor.Sleb();
                return;
            case Udata or RefUdata or Strx or Addrx or Loclistx or Rnglistx or GnuAddrIndex or GnuStrIndex:
                cursor.Uleb();
                return;
            case String:
                cursor.CString();
                return;
            case Block1:
                cursor.Skip(cursor.U8());
                return;
            case Block2:
                cursor.Skip(cursor.U16());
                return;
            case Block4:
                cursor.Skip(cursor.U32());
                return;
            case Block or Exprloc:
                cursor.Skip(cursor.Uleb());
                return;
            case Indirect:
                Skip(ref cursor, cursor.Uleb(), unit);
                return;
            default:
                throw new InvalidDataException($"unknown DWARF form 0x{form:x} at 0x{cursor.Position:x}");
        }
    }

    /// <summary>
    /// A name attribute's bytes: inline (Go's form), or from .debug_str / .debug_line_str.
    /// Forms whose string needs a unit's string-offsets base (DW_FORM_strx*) read as empty,
    /// which matches no name: Go does not use them.
    /// </summary>
    public static ReadOnlySpan<byte> ReadName(ref DwarfCursor cursor, ulong form, in DwarfUnitFormat unit, ReadOnlySpan<byte> debugStr, ReadOnlySpan<byte> debugLineStr)
    {
        switch (form)
        {
            case String:
                return cursor.CString();
            case Strp or LineStrp:
                var table = form == Strp ? debugStr : debugLineStr;
                var at = cursor.Offset(unit.OffsetSize);
                if (at >= (ulong)table.Length)
                    return [];
                var rest = table[(int)at..];
                var nul = rest.IndexOf((byte)0);
                return nul < 0 ? [] : rest[..nul];
            case Indirect:
                return ReadName(ref cursor, cursor.Uleb(), unit, debugStr, debugLineStr);
            default:
                Skip(ref cursor, form, unit);
                return [];
        }
    }

    /// <summary>A flag attribute: DW_FORM_flag_present is set by being there; DW_FORM_flag by its byte.</summary>
    public static bool ReadFlag(ref DwarfCursor cursor, ulong form, in DwarfUnitFormat unit)
    {
        switch (form)
        {
            case FlagPresent:
                return true;
            case Flag:
                return cursor.U8() != 0;
            default:
                Skip(ref cursor, form, unit);
                return false;
        }
    }

    /// <summary>
    /// DW_AT_data_member_location: a constant (DWARF 3 and later, and Go), or the DWARF 2
    /// expression <c>DW_OP_plus_uconst N</c>. Anything else is not a fixed offset.
    /// </summary>
    public static bool TryReadMemberOffset(ref DwarfCursor cursor, in DwarfAttributeSpec spec, in DwarfUnitFormat unit, out long offset)
    {
        offset = 0;
        switch (spec.Form)
        {
            case Data1:
                offset = cursor.U8();
                return true;
            case Data2:
                offset = cursor.U16();
                return true;
            case Data4:
                offset = cursor.U32();
                return true;
            case Data8:
                offset = (long)cursor.U64();
                return true;
            case Udata:
                offset = (long)cursor.Uleb();
                return true;
            case Sdata:
                offset = cursor.Sleb();
                return true;
            case ImplicitConst:
                offset = spec.ImplicitConst;
                return true;
            case Block1 or Block or Exprloc:
                var length = spec.Form == Block1 ? cursor.U8() : cursor.Uleb();
                var expression = new DwarfCursor(cursor.Take(length));
                if (length == 0 || expression.U8() != OpPlusUconst)
                    return false;
                offset = (long)expression.Uleb();
                return expression.AtEnd;
            default:
                Skip(ref cursor, spec.Form, unit);
                return false;
        }
    }
}
