using FlowMesh.Contracts.Capture;

namespace FlowMesh.Node.Kernel;

/// <summary>
/// What one CPU's reader has seen. Written by that reader's thread only; read by
/// anyone through the accessors, which tolerate a value being a moment old.
/// </summary>
public sealed class CpuCaptureStats(int cpu)
{
    private long _records;
    private readonly long[] _decodeErrors = new long[Enum.GetValues<RecordDecodeResult>().Length];

    public int Cpu { get; } = cpu;

    /// <summary>Records decoded and delivered.</summary>
    public long Records => Volatile.Read(ref _records);

    /// <summary>Records that were malformed: counted, never delivered, never fatal.</summary>
    public long DecodeErrors
    {
        get
        {
            long total = 0;
            for (var i = 1; i < _decodeErrors.Length; i++)
                total += Volatile.Read(ref _decodeErrors[i]);
            return total;
        }
    }

    public long DecodeErrorsOf(RecordDecodeResult reason) => Volatile.Read(ref _decodeErrors[(int)reason]);

    internal void CountRecord() => Volatile.Write(ref _records, _records + 1);

    internal void CountDecodeError(RecordDecodeResult reason) =>
        Volatile.Write(ref _decodeErrors[(int)reason], _decodeErrors[(int)reason] + 1);
}
