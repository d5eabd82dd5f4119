using FlowMesh.Node.Kernel.Native;

namespace FlowMesh.Node.Kernel;

/// <summary>Receives the records of a ring buffer, in order, as spans valid only during the call.</summary>
internal interface IRingRecordHandler
{
    void Handle(ReadOnlySpan<byte> record);
}

/// <summary>
/// Consumer side of one BPF ring buffer, read straight from its memory mapping.
/// Written here rather than through libbpf's ring_buffer__consume because that calls
/// back into managed code once per record through a function pointer; reading the
/// mapping hands each record to a generic struct handler as a span, with no
/// transition and no allocation. The protocol follows the kernel's
/// (kernel/bpf/ringbuf.c) and libbpf's reader: an 8-byte header per record whose
/// length carries a busy bit (still being written) and a discard bit.
/// </summary>
internal sealed unsafe class RingBuffer : IDisposable
{
    private const uint BusyBit = 1u << 31;
    private const uint DiscardBit = 1u << 30;
    private const int HeaderSize = 8;
    // Freeing space in the ring costs a store the producer must observe; doing it every
    // few records rather than every record keeps that cache line quieter.
    private const int ReleaseEvery = 16;

    private readonly nint _consumerMapping;
    private readonly nint _producerMapping;
    private readonly nuint _pageSize;
    private readonly nuint _producerMappingLength;
    private readonly ulong* _consumerPos;
    private readonly ulong* _producerPos;
    private readonly byte* _data;
    private readonly ulong _mask;
    private readonly bool _ownsMappings;
    private bool _disposed;

    public int Fd { get; }
    public uint Size { get; }

    /// <summary>
    /// Over plain memory laid out as the kernel's mapping (for tests): <paramref name="data"/>
    /// holds 2 x <paramref name="size"/> bytes, the second half mirroring the first.
    /// </summary>
    internal RingBuffer(ulong* consumerPos, ulong* producerPos, byte* data, uint size)
    {
        ValidateSize(size);
        Fd = -1;
        Size = size;
        _mask = size - 1;
        _consumerPos = consumerPos;
        _producerPos = producerPos;
        _data = data;
    }

    public RingBuffer(int fd, uint size)
    {
        ValidateSize(size);
        _ownsMappings = true;
        Fd = fd;
        Size = size;
        _pageSize = (nuint)LibC.getpagesize();
        _mask = size - 1;

        _consumerMapping = LibC.mmap(0, _pageSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
        if (_consumerMapping == LibC.MAP_FAILED)
            throw new IOException($"mmap of the ring buffer's consumer page failed: {LibC.ErrorText(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}");

        // The data pages are mapped twice in a row by the kernel, so a record that wraps
        // around the end can still be read as one contiguous span.
        _producerMappingLength = _pageSize + 2 * (nuint)size;
        _producerMapping = LibC.mmap(0, _producerMappingLength, LibC.PROT_READ, LibC.MAP_SHARED, fd, (nint)_pageSize);
        if (_producerMapping == LibC.MAP_FAILED)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            LibC.munmap(_consumerMapping, _pageSize);
            throw new IOException($"mmap of the ring buffer's data pages failed: {LibC.ErrorText(errno)}");
        }
        _consumerPos = (ulong*)_consumerMapping;
        _producerPos = (ulong*)_producerMapping;
        _data = (byte*)_producerMapping + _pageSize;
    }

    /// <summary>Bytes written by the kernel and not yet consumed.</summary>
    public ulong Pending => Volatile.Read(ref *_producerPos) - Volatile.Read(ref *_consumerPos);

    /// <summary>
    /// Hands up to <paramref name="maxRecords"/> committed records to <paramref name="handler"/>
    /// and returns how many it consumed (discarded records are skipped and not counted).
    /// Stops at a record the kernel is still writing.
    /// </summary>
    public int Drain<THandler>(ref THandler handler, int maxRecords) where THandler : struct, IRingRecordHandler
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var consumed = 0;
        var sinceRelease = 0;
        var consumerPos = Volatile.Read(ref *_consumerPos);
        var producerPos = Volatile.Read(ref *_producerPos);
        while (consumerPos < producerPos && consumed < maxRecords)
        {
            var header = _data + (consumerPos & _mask);
            var length = Volatile.Read(ref *(uint*)header);
            if ((length & BusyBit) != 0)
                break;
            var payloadLength = length & ~(BusyBit | DiscardBit);
            consumerPos += (HeaderSize + payloadLength + 7) & ~7UL;
            if ((length & DiscardBit) == 0)
            {
                handler.Handle(new ReadOnlySpan<byte>(header + HeaderSize, (int)payloadLength));
                consumed++;
            }
            if (++sinceRelease == ReleaseEvery)
            {
                Volatile.Write(ref *_consumerPos, consumerPos);
                sinceRelease = 0;
            }
            if (consumerPos >= producerPos)
                producerPos = Volatile.Read(ref *_producerPos);
        }
        Volatile.Write(ref *_consumerPos, consumerPos);
        return consumed;
    }

    private static void ValidateSize(uint size)
    {
        if (size == 0 || (size & (size - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(size), "ring buffer size must be a power of two");
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (!_ownsMappings)
            return;
        LibC.munmap(_producerMapping, _producerMappingLength);
        LibC.munmap(_consumerMapping, _pageSize);
        LibC.close(Fd);
    }
}
