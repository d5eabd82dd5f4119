using System.Buffers.Binary;

namespace FlowMesh.Node.Runtime.Go;

/// <summary>
/// A little-endian reader over one DWARF section. Every read checks its bounds and
/// throws <see cref="InvalidDataException"/> past the end, so a truncated or corrupt
/// section becomes one reason line at the top rather than an index exception.
/// </summary>
internal ref struct DwarfCursor
{
    private readonly ReadOnlySpan<byte> _data;

    public DwarfCursor(ReadOnlySpan<byte> data, int position = 0)
    {
        _data = data;
        Position = position;
    }

    public int Position { get; set; }

    public readonly bool AtEnd => Position >= _data.Length;

    public readonly int Length => _data.Length;

    public byte U8() => Take(1)[0];

    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    /// <summary>A section offset or length: 4 bytes in 32-bit DWARF, 8 in 64-bit.</summary>
    public ulong Offset(int size) => size == 8 ? U64() : U32();

    public ulong Uleb()
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = U8();
            if (shift < 64)
                value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
                return value;
        }
    }

    public long Sleb()
    {
        long value = 0;
        var shift = 0;
        byte b;
        do
        {
            b = U8();
            if (shift < 64)
                value |= (long)(b & 0x7f) << shift;
            shift += 7;
        }
        while ((b & 0x80) != 0);
        if (shift < 64 && (b & 0x40) != 0)
            value |= -1L << shift;
        return value;
    }

    /// <summary>A NUL-terminated string, without its NUL.</summary>
    public ReadOnlySpan<byte> CString()
    {
        var rest = _data[Math.Min(Position, _data.Length)..];
        var nul = rest.IndexOf((byte)0);
        if (nul < 0)
            throw new InvalidDataException($"DWARF string at 0x{Position:x} has no end");
        Position += nul + 1;
        return rest[..nul];
    }

    public ReadOnlySpan<byte> Take(ulong count)
    {
        if (count > (ulong)(_data.Length - Math.Min(Position, _data.Length)))
            throw new InvalidDataException($"DWARF data ends inside a {count}-byte read at 0x{Position:x} (section of {_data.Length} bytes)");
        var span = _data.Slice(Position, (int)count);
        Position += (int)count;
        return span;
    }

    public void Skip(ulong count) => Take(count);
}
