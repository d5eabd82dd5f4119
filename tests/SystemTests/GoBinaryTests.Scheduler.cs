using System.Diagnostics;
using System.Text;
using FlowMesh.Node.Runtime.Go;
using FlowMesh.SystemTests.Harness;

namespace FlowMesh.SystemTests;

/// <summary>The layout for the probe on runtime.execute (<see cref="GoSchedulerLayout"/>), held to readelf.</summary>
public sealed partial class GoBinaryTests
{
    // In the order of GoSchedulerLayout's member fields.
    private static readonly (string Struct, string Member)[] _schedulerMembers =
    [
        ("runtime.g", "tracking"),
        ("runtime.g", "runnableStamp"),
        ("runtime.schedt", "runqsize"),
        ("runtime.p", "runqhead"),
        ("runtime.p", "runqtail"),
        ("runtime.p", "runnext"),
    ];

    [Fact]
    public async Task Reads_the_scheduler_layout_that_readelf_reports()
    {
        var binary = await GoWorkload.BuildAsync();

        var go = GoBinaryReader.TryRead(binary, out var whyNot);

        Assert.True(go is not null, whyNot);
        Assert.Equal(GoidOffsetSource.Dwarf, go.GoidOffsetSource);
        Assert.NotNull(go.Scheduler);
        Assert.Equal(await DwarfMembersAsync(binary), Members(go.Scheduler));
        await AssertAddressesAsync(binary, go.Scheduler);
        Assert.False(go.Scheduler.PositionIndependent);
        var s = go.Scheduler;
        output.WriteLine(
            $"{go.GoVersion}: execute at file offset 0x{s.ExecuteFileOffset:x}; g.tracking {s.GTracking}, g.runnableStamp {s.GRunnableStamp}, "
            + $"schedt.runqsize {s.SchedRunqSize}, p.runqhead {s.PRunqHead}, p.runqtail {s.PRunqTail}, p.runnext {s.PRunnext}; "
            + $"sched at 0x{s.SchedAddress:x}, allp at 0x{s.AllpAddress:x}");
    }

    [Fact]
    public async Task Without_dwarf_the_scheduler_layout_comes_from_the_table_and_equals_the_dwarf_one()
    {
        var withDwarf = await GoWorkload.BuildAsync();
        var noDwarf = await GoWorkload.BuildAsync("-w");

        var go = GoBinaryReader.TryRead(noDwarf, out var whyNot);

        Assert.True(go is not null, whyNot);
        Assert.Equal(GoidOffsetSource.Table, go.GoidOffsetSource);
        Assert.NotNull(go.Scheduler);
        Assert.Equal(await DwarfMembersAsync(withDwarf), Members(go.Scheduler));
        await AssertAddressesAsync(noDwarf, go.Scheduler);
    }

    [Fact]
    public async Task A_position_independent_binary_says_so_and_gives_link_time_addresses()
    {
        var pie = await GoWorkload.BuildAsync(buildmode: "pie");
        Assert.True(await Readelf.IsPositionIndependentAsync(pie));

        var go = GoBinaryReader.TryRead(pie, out var whyNot);

        Assert.True(go is not null, whyNot);
        Assert.NotNull(go.Scheduler);
        Assert.True(go.Scheduler.PositionIndependent);
        Assert.Equal(await DwarfMembersAsync(pie), Members(go.Scheduler));
        await AssertAddressesAsync(pie, go.Scheduler);
    }

    [Fact]
    public async Task Without_dwarf_a_release_the_scheduler_table_lacks_keeps_its_goid_but_has_no_layout()
    {
        // go1.24 has a goid entry (160) and no scheduler entry: a -w goserver whose
        // buildinfo says go1.24 must be read as before, with Scheduler null.
        var noDwarf = await GoWorkload.BuildAsync("-w");
        var (offset, size) = await Readelf.SectionAsync(noDwarf, ".go.buildinfo") ?? throw new InvalidOperationException("goserver has no .go.buildinfo");
        var bytes = await File.ReadAllBytesAsync(noDwarf);
        var at = bytes.AsSpan((int)offset, (int)size).IndexOf("go1.19"u8);
        Assert.True(at >= 0, "no go1.19 in .go.buildinfo");
        "go1.24"u8.CopyTo(bytes.AsSpan((int)offset + at));
        var copy = Path.Combine(Directory.CreateTempSubdirectory("flowmesh-gobinary.").FullName, "goserver");
        try
        {
            await File.WriteAllBytesAsync(copy, bytes);

            var go = GoBinaryReader.TryRead(copy, out var whyNot);

            Assert.True(go is not null, whyNot);
            Assert.StartsWith("go1.24", go.GoVersion, StringComparison.Ordinal);
            Assert.Equal(GoidOffsetSource.Table, go.GoidOffsetSource);
            Assert.Equal(160, go.GoidOffset);
            Assert.Null(go.Scheduler);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(copy)!, recursive: true);
        }
    }

    [Fact]
    public async Task One_dwarf_walk_finds_what_a_walk_per_member_finds()
    {
        var binary = await GoWorkload.BuildAsync();
        using var elf = ElfImage.Open(binary);
        var info = elf.ReadDebugSection(".debug_info")!;
        var abbrev = elf.ReadDebugSection(".debug_abbrev")!;
        var str = elf.ReadDebugSection(".debug_str") ?? [];
        var lineStr = elf.ReadDebugSection(".debug_line_str") ?? [];
        DwarfMember[] members = [new("runtime.g", "goid"), .. GoSchedulerMembers.Dwarf];

        var all = DwarfStructLayout.FindMemberOffsets(info, abbrev, str, lineStr, members);

        Assert.Equal(members.Length, all.Count);
        foreach (var member in members)
            Assert.Equal(all[member], DwarfStructLayout.FindMemberOffsets(info, abbrev, str, lineStr, [member])[member]);

        var oneWalk = MedianMilliseconds(() => DwarfStructLayout.FindMemberOffsets(info, abbrev, str, lineStr, members));
        var walkEach = MedianMilliseconds(() =>
        {
            foreach (var member in members)
                DwarfStructLayout.FindMemberOffsets(info, abbrev, str, lineStr, [member]);
        });
        var goidOnly = MedianMilliseconds(() => DwarfStructLayout.FindMemberOffsets(info, abbrev, str, lineStr, [members[0]]));
        var tryRead = MedianMilliseconds(() => GoBinaryReader.TryRead(binary, out _));
        output.WriteLine(
            $".debug_info {info.Length} bytes; median of 15: {members.Length} members in one walk {oneWalk:F2} ms, "
            + $"a walk per member {walkEach:F2} ms, goid alone {goidOnly:F2} ms; TryRead {tryRead:F1} ms");
    }

    private static int[] Members(GoSchedulerLayout layout) =>
        [layout.GTracking, layout.GRunnableStamp, layout.SchedRunqSize, layout.PRunqHead, layout.PRunqTail, layout.PRunnext];

    /// <summary>What readelf's dump of the DWARF says, in the order of <see cref="Members"/>; a member it lacks fails here.</summary>
    private static async Task<int[]> DwarfMembersAsync(string binary)
    {
        var found = await Readelf.MemberOffsetsAsync(binary, _schedulerMembers);
        var offsets = new int[_schedulerMembers.Length];
        var missing = new StringBuilder();
        for (var i = 0; i < offsets.Length; i++)
        {
            if (found.TryGetValue(_schedulerMembers[i], out var offset))
                offsets[i] = (int)offset;
            else
                missing.Append(' ').Append(_schedulerMembers[i]);
        }
        Assert.True(missing.Length == 0, $"readelf finds no{missing} in {binary}");
        return offsets;
    }

    private static async Task AssertAddressesAsync(string binary, GoSchedulerLayout layout)
    {
        Assert.Equal(await Readelf.FunctionFileOffsetAsync(binary, GoBinaryReader.Execute), layout.ExecuteFileOffset);
        Assert.Equal(await Readelf.SymbolValueAsync(binary, GoBinaryReader.Sched), layout.SchedAddress);
        Assert.Equal(await Readelf.SymbolValueAsync(binary, GoBinaryReader.Allp), layout.AllpAddress);
        Assert.Equal(await Readelf.IsPositionIndependentAsync(binary), layout.PositionIndependent);
        Assert.NotEqual(0UL, layout.SchedAddress);
        Assert.NotEqual(0UL, layout.AllpAddress);
    }

    private static double MedianMilliseconds(Action action)
    {
        action(); // JIT and first-touch costs out of the figure
        var times = new double[15];
        for (var i = 0; i < times.Length; i++)
        {
            var watch = Stopwatch.StartNew();
            action();
            times[i] = watch.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return times[times.Length / 2];
    }
}
