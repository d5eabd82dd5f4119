using System.Buffers.Binary;
using System.IO.Compression;
using LibObjectFile.Elf;

namespace FlowMesh.Node.Runtime.Go;

/// <summary>
/// One x86-64 ELF executable opened for reading: sections (decompressed when the linker
/// compressed them, as Go's does for DWARF), symbols, and the mapping from virtual
/// addresses to file offsets. Malformed content throws <see cref="InvalidDataException"/>.
/// </summary>
internal sealed class ElfImage : IDisposable
{
    private const ushort MachineX8664 = 62;
    private const ushort TypeDyn = 3; // ET_DYN: a PIE (or a shared object), loaded at a base chosen at exec
    private const int HeaderSize = 64;
    private const uint CompressZlib = 1;
    private const uint CompressZstd = 2;
    private const int ChdrSize = 24; // Elf64_Chdr: ch_type, ch_reserved, ch_size, ch_addralign
    private const ulong MaxSectionBytes = 1UL << 30;

    private readonly FileStream _file;
    private readonly ElfFile _elf;
    private readonly Dictionary<string, ElfSection> _sections = new(StringComparer.Ordinal);
    private readonly ElfSymbolTable? _symbols;

    private ElfImage(FileStream file, ElfFile elf, bool positionIndependent)
    {
        _file = file;
        _elf = elf;
        IsPositionIndependent = positionIndependent;
        foreach (var section in elf.Sections)
        {
            _sections.TryAdd(section.Name.Value ?? "", section);
            if (section is ElfSymbolTable table && section.Name.Value == ".symtab")
                _symbols = table;
        }
    }

    /// <summary>Whether a .symtab is there (Go keeps it unless linked with -s).</summary>
    public bool HasSymbolTable => _symbols is not null;

    /// <summary>
    /// Whether the file is ET_DYN (Go's <c>-buildmode=pie</c>): its symbol values are then
    /// relative to the base it is loaded at, not addresses in the running process.
    /// </summary>
    public bool IsPositionIndependent { get; }

    /// <summary>
    /// Opens <paramref name="path"/> if it is a 64-bit little-endian x86-64 ELF file.
    /// The header is checked by hand first, so that the common "not this kind of file"
    /// answers are exact and cost one 64-byte read.
    /// </summary>
    public static ElfImage Open(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 4096);
        try
        {
            Span<byte> header = stackalloc byte[HeaderSize];
            if (file.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false) < HeaderSize || !header[..4].SequenceEqual("\x7f"u8 + "ELF"u8))
                throw new InvalidDataException("not an ELF file");
            if (header[4] != 2)
                throw new InvalidDataException("32-bit ELF: only amd64 Go binaries are traced");
            if (header[5] != 1)
                throw new InvalidDataException("big-endian ELF: only amd64 Go binaries are traced");
            var machine = BinaryPrimitives.ReadUInt16LittleEndian(header[18..]);
            if (machine != MachineX8664)
                throw new InvalidDataException($"ELF for {MachineName(machine)}: only amd64 Go binaries are traced");
            var type = BinaryPrimitives.ReadUInt16LittleEndian(header[16..]);

            file.Position = 0;
            // Sub-streams: section contents stay in the file until asked for.
            if (!ElfFile.TryRead(file, out var elf, out var diagnostics, new ElfReaderOptions { UseSubStream = true }))
                throw new InvalidDataException($"unreadable ELF: {FirstLine(diagnostics.ToString())}");
            return new ElfImage(file, elf, type == TypeDyn);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public void Dispose() => _file.Dispose();

    public bool HasSection(string name) => _sections.ContainsKey(name);

    /// <summary>At most <paramref name="max"/> bytes from the start of a section as stored in the file, or null if there is none.</summary>
    public byte[]? ReadSectionPrefix(string name, int max)
    {
        if (!_sections.TryGetValue(name, out var section) || section is not ElfStreamSection stored)
            return null;
        var bytes = new byte[(int)Math.Min((ulong)max, section.Size)];
        stored.Stream.Position = 0;
        stored.Stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>
    /// A debug section's contents, decompressed: <c>.debug_X</c> either plain or
    /// SHF_COMPRESSED (an Elf64_Chdr before a zlib stream: Go 1.11 and later), or the
    /// older GNU <c>.zdebug_X</c> ("ZLIB", an 8-byte big-endian size, a zlib stream).
    /// Null when neither is there.
    /// </summary>
    public byte[]? ReadDebugSection(string name)
    {
        if (_sections.TryGetValue(name, out var section) && section is ElfStreamSection stored)
        {
            var stream = stored.Stream;
            stream.Position = 0;
            if ((section.Flags & ElfSectionFlags.Compressed) == 0)
                return ReadAll(stream, section.Size, name);
            Span<byte> chdr = stackalloc byte[ChdrSize];
            stream.ReadExactly(chdr);
            var type = BinaryPrimitives.ReadUInt32LittleEndian(chdr);
            if (type == CompressZstd)
                throw new InvalidDataException($"{name} is zstd-compressed; only zlib is read");
            if (type != CompressZlib)
                throw new InvalidDataException($"{name} has unknown compression type {type}");
            return Inflate(stream, BinaryPrimitives.ReadUInt64LittleEndian(chdr[8..]), name);
        }
        var zname = ".z" + name[1..];
        if (_sections.TryGetValue(zname, out section) && section is ElfStreamSection old)
        {
            var stream = old.Stream;
            stream.Position = 0;
            Span<byte> head = stackalloc byte[12];
            stream.ReadExactly(head);
            if (!head[..4].SequenceEqual("ZLIB"u8))
                throw new InvalidDataException($"{zname} does not start with ZLIB");
            return Inflate(stream, BinaryPrimitives.ReadUInt64BigEndian(head[4..]), zname);
        }
        return null;
    }

    /// <summary>The virtual address of a function symbol in .symtab, or 0 when absent.</summary>
    public ulong FunctionAddress(string name) => SymbolAddress(name, ElfSymbolType.Function);

    /// <summary>The virtual address of a data symbol in .symtab, or 0 when absent.</summary>
    public ulong ObjectAddress(string name) => SymbolAddress(name, ElfSymbolType.Object);

    /// <summary>
    /// The file offset of a virtual address: through the PT_LOAD segment whose file image
    /// holds it (vaddr - p_vaddr + p_offset), which is what a uprobe is attached by.
    /// 0 when no segment maps <paramref name="length"/> bytes from there from the file.
    /// </summary>
    public ulong FileOffset(ulong address, ulong length = 1)
    {
        foreach (var segment in _elf.Segments)
        {
            if (segment.Type.Value != (uint)ElfSegmentTypeCore.Load || address < segment.VirtualAddress)
                continue;
            var into = address - segment.VirtualAddress;
            if (into < segment.Size && length <= segment.Size - into)
                return segment.Position + into;
        }
        return 0;
    }

    /// <summary>The first PT_LOAD segment's virtual address, rounded down to a page (0 when there is none).</summary>
    public ulong FirstLoadAddress
    {
        get
        {
            foreach (var segment in _elf.Segments)
            {
                if (segment.Type.Value == (uint)ElfSegmentTypeCore.Load)
                    return segment.VirtualAddress & ~0xfffUL;
            }
            return 0;
        }
    }

    /// <summary><paramref name="length"/> bytes of the file image at a virtual address.</summary>
    public byte[] ReadAt(ulong address, int length)
    {
        var offset = FileOffset(address, (ulong)length);
        if (offset == 0)
            throw new InvalidDataException($"address 0x{address:x} (+{length}) is in no loaded part of the file");
        var bytes = new byte[length];
        _file.Position = (long)offset;
        _file.ReadExactly(bytes);
        return bytes;
    }

    private ulong SymbolAddress(string name, ElfSymbolType type)
    {
        if (_symbols is null)
            return 0;
        foreach (var symbol in _symbols.Entries)
        {
            if (symbol.Type == type && symbol.Value != 0 && symbol.Name.Value == name)
                return symbol.Value;
        }
        return 0;
    }

    private static byte[] ReadAll(Stream stream, ulong size, string name)
    {
        if (size > MaxSectionBytes)
            throw new InvalidDataException($"{name} is {size} bytes, more than is read");
        var bytes = new byte[size];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static byte[] Inflate(Stream compressed, ulong size, string name)
    {
        using var zlib = new ZLibStream(compressed, CompressionMode.Decompress, leaveOpen: true);
        return ReadAll(zlib, size, name);
    }

    private static string MachineName(ushort machine) => machine switch
    {
        3 => "i386",
        40 => "arm",
        183 => "aarch64",
        243 => "riscv",
        8 => "mips",
        21 => "ppc64",
        22 => "s390x",
        _ => $"machine {machine}",
    };

    private static string FirstLine(string text)
    {
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        return (end < 0 ? text : text[..end]).Trim();
    }
}
