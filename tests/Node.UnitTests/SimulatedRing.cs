using System.Runtime.InteropServices;
using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.UnitTests;

/// <summary>
/// Plays the kernel's side of a BPF ring buffer over plain memory: same header
/// format, same 8-byte alignment, data mirrored after the end like the kernel's
/// double mapping, so wrapped records read as one span.
/// </summary>
internal sealed unsafe class SimulatedRing : IDisposable
{
    private const uint BusyBit = 1u << 31;
    private const uint DiscardBit = 1u << 30;
    private readonly ulong* _positions;
    private readonly byte* _data;
    private readonly uint _size;

    public SimulatedRing(uint size)
    {
        _size = size;
        _positions = (ulong*)NativeMemory.AllocZeroed(2 * sizeof(ulong));
        _data = (byte*)NativeMemory.AllocZeroed(2 * size);
        Ring = new RingBuffer(ConsumerPos, ProducerPos, _data, size);
    }

    public RingBuffer Ring { get; }
    public ulong* ConsumerPos => _positions;
    public ulong* ProducerPos => _positions + 1;

    /// <summary>Writes a record as the kernel would; returns the offset of its header.</summary>
    public ulong Write(ReadOnlySpan<byte> payload, bool busy = false, bool discard = false)
    {
        var pos = *ProducerPos;
        var total = (8 + (ulong)payload.Length + 7) & ~7UL;
        if (pos + total - *ConsumerPos > _size)
            throw new InvalidOperationException("simulated ring full");
        var length = (uint)payload.Length | (busy ? BusyBit : 0) | (discard ? DiscardBit : 0);
        var header = new byte[8];
        MemoryMarshal.Write(header, in length);
        Put(pos, header);
        Put(pos + 8, payload);
        *ProducerPos = pos + total;
        return pos;
    }

    public void Commit(ulong headerPos, int payloadLength)
    {
        var header = new byte[8];
        var length = (uint)payloadLength;
        MemoryMarshal.Write(header, in length);
        Put(headerPos, header);
    }

    private void Put(ulong pos, ReadOnlySpan<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            var offset = (pos + (ulong)i) & (_size - 1);
            _data[offset] = bytes[i];
            _data[offset + _size] = bytes[i]; // the mirror
        }
    }

    public void Dispose()
    {
        Ring.Dispose();
        NativeMemory.Free(_positions);
        NativeMemory.Free(_data);
    }
}
