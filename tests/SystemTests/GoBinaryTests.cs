using System.Diagnostics;
using FlowMesh.Node.Runtime.Go;
using FlowMesh.SystemTests.Harness;
using Xunit.Abstractions;

namespace FlowMesh.SystemTests;

/// <summary>
/// The Go binary reader against Go binaries built here from workloads/goserver, each
/// answer held to what the Go toolchain (<c>go version</c>) and binutils (<c>readelf</c>)
/// say about the same file.
/// </summary>
public sealed partial class GoBinaryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Reads_the_version_goid_offset_and_uprobe_offsets_that_go_and_readelf_report()
    {
        var binary = await GoWorkload.BuildAsync();

        var watch = Stopwatch.StartNew();
        var go = GoBinaryReader.TryRead(binary, out var whyNot);
        output.WriteLine($"TryRead took {watch.Elapsed.TotalMilliseconds:F1} ms (first call of the process, JIT included)");

        Assert.True(go is not null, whyNot);
        Assert.Null(whyNot);
        Assert.Equal(binary, go.Path);
        Assert.Equal(await GoWorkload.VersionOfAsync(binary), go.GoVersion);
        Assert.Equal(GoBinaryReader.Amd64, go.Arch);
        Assert.Equal(GoidOffsetSource.Dwarf, go.GoidOffsetSource);
        Assert.Equal(await Readelf.MemberOffsetAsync(binary, "runtime.g", "goid"), go.GoidOffset);
        Assert.Equal(await Readelf.FunctionFileOffsetAsync(binary, GoBinaryReader.Casgstatus), go.CasgstatusFileOffset);
        Assert.Equal(await Readelf.FunctionFileOffsetAsync(binary, GoBinaryReader.Newproc1), go.Newproc1FileOffset);
        Assert.Equal(await Readelf.FunctionFileOffsetAsync(binary, GoBinaryReader.Goexit1), go.Goexit1FileOffset);
        output.WriteLine($"{go.GoVersion}: goid at g+{go.GoidOffset}, casgstatus at file offset 0x{go.CasgstatusFileOffset:x}");

        watch.Restart();
        _ = GoBinaryReader.TryRead(binary, out _);
        output.WriteLine($"TryRead again: {watch.Elapsed.TotalMilliseconds:F1} ms");
    }

    [Fact]
    public async Task Without_dwarf_the_goid_offset_comes_from_the_table_and_equals_the_dwarf_one()
    {
        var withDwarf = await GoWorkload.BuildAsync();
        var noDwarf = await GoWorkload.BuildAsync("-w");
        Assert.Null(await Readelf.SectionAsync(noDwarf, ".debug_info"));

        var go = GoBinaryReader.TryRead(noDwarf, out var whyNot);

        Assert.True(go is not null, whyNot);
        Assert.Equal(GoidOffsetSource.Table, go.GoidOffsetSource);
        Assert.Equal(await Readelf.MemberOffsetAsync(withDwarf, "runtime.g", "goid"), go.GoidOffset);
        Assert.Equal(await GoWorkload.VersionOfAsync(noDwarf), go.GoVersion);
        Assert.Equal(await Readelf.FunctionFileOffsetAsync(noDwarf, GoBinaryReader.Casgstatus), go.CasgstatusFileOffset);
    }

    [Fact]
    public async Task A_binary_without_a_symbol_table_is_refused_saying_so()
    {
        var stripped = await GoWorkload.BuildAsync("-s -w");

        var go = GoBinaryReader.TryRead(stripped, out var whyNot);

        Assert.Null(go);
        Assert.NotNull(whyNot);
        Assert.Contains("symbol table", whyNot, StringComparison.Ordinal);
        Assert.Contains(await GoWorkload.VersionOfAsync(stripped), whyNot, StringComparison.Ordinal);
        output.WriteLine(whyNot);
    }

    [Fact]
    public async Task Without_buildinfo_the_version_comes_from_runtime_buildVersion()
    {
        // Go before 1.18 has no inline version in .go.buildinfo; the symbol is the other
        // source. A copy whose buildinfo magic is broken must take that path and agree.
        var binary = await GoWorkload.BuildAsync();
        var (offset, _) = await Readelf.SectionAsync(binary, ".go.buildinfo") ?? throw new InvalidOperationException("goserver has no .go.buildinfo");
        var copy = Path.Combine(Directory.CreateTempSubdirectory("flowmesh-gobinary.").FullName, "goserver");
        try
        {
            File.Copy(binary, copy);
            await using (var file = new FileStream(copy, FileMode.Open, FileAccess.Write))
            {
                file.Position = offset;
                file.WriteByte(0);
            }

            var go = GoBinaryReader.TryRead(copy, out var whyNot);

            Assert.True(go is not null, whyNot);
            Assert.Equal(await GoWorkload.VersionOfAsync(binary), go.GoVersion);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(copy)!, recursive: true);
        }
    }

    [Theory]
    [InlineData("arm64", "ELF for aarch64: only amd64 Go binaries are traced")]
    [InlineData("386", "32-bit ELF: only amd64 Go binaries are traced")]
    public async Task Go_binaries_of_other_architectures_are_refused(string goarch, string reason)
    {
        var binary = await GoWorkload.BuildAsync(goarch: goarch);

        Assert.Null(GoBinaryReader.TryRead(binary, out var whyNot));
        Assert.Equal(reason, whyNot);
    }

    [Fact]
    public void An_elf_that_is_not_go_is_refused()
    {
        Assert.Null(GoBinaryReader.TryRead("/bin/true", out var whyNot));
        Assert.Equal("not a Go binary: no .go.buildinfo section and no runtime.buildVersion symbol", whyNot);
    }

    [Fact]
    public async Task Text_missing_and_truncated_files_are_refused_without_throwing()
    {
        var directory = Directory.CreateTempSubdirectory("flowmesh-gobinary.").FullName;
        try
        {
            var text = Path.Combine(directory, "notes.txt");
            await File.WriteAllTextAsync(text, "#!/bin/sh\necho not an executable format\n");
            Assert.Null(GoBinaryReader.TryRead(text, out var whyNot));
            Assert.Equal("not an ELF file", whyNot);

            Assert.Null(GoBinaryReader.TryRead(Path.Combine(directory, "absent"), out whyNot));
            Assert.Equal("no such file", whyNot);

            // Cut at points that leave the header, the program headers, part of the code,
            // and everything but the section headers (at the end in Go's layout).
            var binary = await File.ReadAllBytesAsync(await GoWorkload.BuildAsync());
            foreach (var length in new[] { 0, 20, 64, 200, 4096, binary.Length / 2, binary.Length - 100 })
            {
                var cut = Path.Combine(directory, $"cut-{length}");
                await File.WriteAllBytesAsync(cut, binary.AsMemory(0, length).ToArray());
                Assert.Null(GoBinaryReader.TryRead(cut, out whyNot));
                Assert.False(string.IsNullOrWhiteSpace(whyNot));
                Assert.DoesNotContain('\n', whyNot);
                output.WriteLine($"{length} bytes: {whyNot}");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
