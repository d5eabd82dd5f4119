using LibObjectFile;

namespace FlowMesh.Node.Runtime.Go;

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

    /// <summary>Where a goroutine is put on a thread, once per schedule: the scheduling probe's target.</summary>
    public const string Execute = "runtime.execute";

    /// <summary>The scheduler's globals: a <c>runtime.schedt</c>, and the slice of every P.</summary>
    public const string Sched = "runtime.sched";
    public const string Allp = "runtime.allp";

    private static readonly DwarfMember _goid = new(GoSchedulerMembers.G, "goid");

    // Everything asked of the DWARF, so that one walk answers it all.
    private static readonly DwarfMember[] _dwarfMembers = [_goid, .. GoSchedulerMembers.Dwarf];

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
            whyNot = e.Message.ReplaceLineEndings(" "); // a reason is one line of the Node's log
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
            whyNot = $"cannot read: {e.Message.ReplaceLineEndings(" ")}";
        }
        catch (UnauthorizedAccessException e)
        {
            whyNot = $"cannot read: {e.Message}";
        }
        catch (Exception e) when (e is ObjectFileException or ArgumentException or InvalidOperationException or OverflowException)
        {
            // LibObjectFile's reader reports some malformed headers by throwing these
            // rather than through its diagnostics.
            whyNot = $"unreadable ELF: {e.Message.ReplaceLineEndings(" ")}";
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
        GoSchedulerMembers? members;
        var dwarf = MembersFromDwarf(elf);
        if (dwarf is not null && dwarf.TryGetValue(_goid, out var dwarfGoid))
        {
            // The DWARF describes this very binary: what it lacks, the runtime lacks too,
            // so the tables are not consulted for the scheduler's members either.
            (goidOffset, source) = (dwarfGoid, GoidOffsetSource.Dwarf);
            members = GoSchedulerMembers.From(dwarf);
        }
        else if (GoidOffsets.TryGet(version, out var known))
        {
            (goidOffset, source) = (known, GoidOffsetSource.Table);
            members = GoSchedulerOffsets.TryGet(version, out var knownMembers) ? knownMembers : null;
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
            FunctionFileOffset(elf, Goexit1),
            members is { } m ? Scheduler(elf, m) : null);
    }

    private static GoSchedulerLayout Scheduler(ElfImage elf, GoSchedulerMembers m) => new(
        FunctionFileOffset(elf, Execute),
        m.GTracking,
        m.GRunnableStamp,
        m.SchedRunqSize,
        m.PRunqHead,
        m.PRunqTail,
        m.PRunnext,
        elf.ObjectAddress(Sched),
        elf.ObjectAddress(Allp),
        elf.IsPositionIndependent,
        elf.FirstLoadAddress);

    /// <summary>
    /// The offsets of goid and the scheduler's members that the binary's DWARF gives, in
    /// one walk of .debug_info; null when there is no DWARF.
    /// </summary>
    private static Dictionary<DwarfMember, int>? MembersFromDwarf(ElfImage elf)
    {
        var info = elf.ReadDebugSection(".debug_info");
        if (info is null)
            return null;
        var abbrev = elf.ReadDebugSection(".debug_abbrev") ?? throw new InvalidDataException(".debug_info without .debug_abbrev");
        var found = DwarfStructLayout.FindMemberOffsets(
            info,
            abbrev,
            elf.ReadDebugSection(".debug_str") ?? [],
            elf.ReadDebugSection(".debug_line_str") ?? [],
            _dwarfMembers);
        var offsets = new Dictionary<DwarfMember, int>(found.Count);
        foreach (var (member, offset) in found)
        {
            // Each lies well inside its struct (in go1.19 runtime.g is 392 bytes, runtime.p
            // 8912, runtime.schedt 6080); an offset far out is not the member. A wrong goid
            // refuses the binary, as it always has; a wrong scheduler member only costs the
            // scheduler layout.
            var limit = member.Struct == GoSchedulerMembers.G ? 4096 : 65536;
            if (offset >= 0 && offset <= limit)
                offsets[member] = (int)offset;
            else if (member == _goid)
                throw new InvalidDataException($"DWARF puts {member} at {offset}, which cannot be right");
        }
        return offsets;
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
