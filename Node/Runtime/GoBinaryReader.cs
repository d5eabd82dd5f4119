using LibObjectFile;

namespace FlowMesh.Node.Runtime;

/// <summary>
/// Reads what tracing needs from a Go executable (<see cref="GoBinary"/>). Runs once per
/// distinct executable, off the capture path; caching is the caller's. A file that cannot
/// be traced, for whatever reason, is a null and one line saying why, never an exception.
/// </summary>
public static class GoBinaryReader
{
    public const string Amd64 = "amd64";

    /// <summary>The uprobe target every traced binary must have: each goroutine state change passes through it.</summary>
    public const string Casgstatus = "runtime.casgstatus";

    public const string Newproc1 = "runtime.newproc1";
    public const string Goexit1 = "runtime.goexit1";

    /// <summary>Reads <paramref name="path"/>; null with <paramref name="whyNot"/> when it is not a Go binary this Node can trace.</summary>
    public static GoBinary? TryRead(string path, out string? whyNot)
    {
        try
        {
            using var elf = ElfImage.Open(path);
            return Read(path, elf, out whyNot);
        }
        catch (InvalidDataException e)
        {
            whyNot = e.Message;
        }
        catch (EndOfStreamException)
        {
            whyNot = "truncated file: a part the headers point to is missing";
        }
        catch (FileNotFoundException)
        {
            whyNot = "no such file";
        }
        catch (IOException e)
        {
            whyNot = $"cannot read: {e.Message}";
        }
        catch (UnauthorizedAccessException e)
        {
            whyNot = $"cannot read: {e.Message}";
        }
        catch (Exception e) when (e is ObjectFileException or ArgumentException or InvalidOperationException or OverflowException)
        {
            // LibObjectFile's reader reports some malformed headers by throwing these
            // rather than through its diagnostics.
            whyNot = $"unreadable ELF: {e.Message}";
        }
        return null;
    }

    private static GoBinary? Read(string path, ElfImage elf, out string? whyNot)
    {
        var version = GoBuildInfo.ReadVersion(elf);
        if (version is null)
        {
            whyNot = $"not a Go binary: no {GoBuildInfo.SectionName} section and no runtime.buildVersion symbol";
            return null;
        }

        // The symbol table is already in memory; DWARF must be inflated, so it comes second.
        if (!elf.HasSymbolTable)
        {
            whyNot = $"{version} binary without a symbol table (linked with -s): {Casgstatus} cannot be found";
            return null;
        }
        var casgstatus = FunctionFileOffset(elf, Casgstatus);
        if (casgstatus == 0)
        {
            whyNot = $"{version} binary whose symbol table has no {Casgstatus}";
            return null;
        }

        int goidOffset;
        GoidOffsetSource source;
        var fromDwarf = GoidFromDwarf(elf);
        if (fromDwarf is { } dwarf)
        {
            (goidOffset, source) = (dwarf, GoidOffsetSource.Dwarf);
        }
        else if (GoidOffsets.TryGet(version, out var known))
        {
            (goidOffset, source) = (known, GoidOffsetSource.Table);
        }
        else
        {
            whyNot = $"{version} binary without DWARF for runtime.g (linked with -w?) and no known goid offset for that release";
            return null;
        }

        whyNot = null;
        return new GoBinary(
            path,
            version,
            Amd64,
            goidOffset,
            source,
            casgstatus,
            FunctionFileOffset(elf, Newproc1),
            FunctionFileOffset(elf, Goexit1));
    }

    /// <summary>runtime.g.goid from the binary's DWARF; null when there is no DWARF or it does not describe runtime.g.</summary>
    private static int? GoidFromDwarf(ElfImage elf)
    {
        var info = elf.ReadDebugSection(".debug_info");
        if (info is null)
            return null;
        var abbrev = elf.ReadDebugSection(".debug_abbrev") ?? throw new InvalidDataException(".debug_info without .debug_abbrev");
        var offset = DwarfStructLayout.FindMemberOffset(
            info,
            abbrev,
            elf.ReadDebugSection(".debug_str") ?? [],
            elf.ReadDebugSection(".debug_line_str") ?? [],
            "runtime.g",
            "goid");
        if (offset is null)
            return null;
        // goid is an int64 near the start of g (152 in go1.19); anything far out is not it.
        if (offset is < 0 or > 4096)
            throw new InvalidDataException($"DWARF puts runtime.g.goid at {offset}, which cannot be right");
        return (int)offset;
    }

    /// <summary>A function's entry as a file offset, or 0 when the symbol is absent.</summary>
    private static ulong FunctionFileOffset(ElfImage elf, string name)
    {
        var address = elf.FunctionAddress(name);
        if (address == 0)
            return 0;
        var offset = elf.FileOffset(address);
        return offset != 0 ? offset : throw new InvalidDataException($"{name} at 0x{address:x} is in no PT_LOAD segment's file image");
    }
}
