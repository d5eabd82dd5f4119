using System.Runtime.InteropServices;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Kernel.Native;

namespace FlowMesh.Node.Kernel;

/// <summary>
/// Reads one CPU's ring buffer on a dedicated thread: decodes each record into a
/// pooled batch and hands full batches (or whatever it has when the ring runs dry)
/// to the sink. The thread sleeps in epoll between polls; the kernel only wakes it
/// early when the ring fills past the configured threshold.
/// </summary>
internal sealed unsafe class CpuRingReader : IDisposable
{
    private readonly RingBuffer _ring;
    private readonly IRecordBatchSink _sink;
    private readonly int _pollMs;
    private readonly int _batchSize;
    private readonly int _epollFd;
    private readonly Thread _thread;
    private volatile bool _stopping;

    public int Cpu { get; }
    public CpuCaptureStats Stats { get; }

    public CpuRingReader(int cpu, RingBuffer ring, IRecordBatchSink sink, int pollMs, int batchSize)
    {
        Cpu = cpu;
        _ring = ring;
        _sink = sink;
        _pollMs = pollMs;
        _batchSize = batchSize;
        Stats = new CpuCaptureStats(cpu);

        _epollFd = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        if (_epollFd < 0)
            throw new IOException($"epoll_create1 failed: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        var ev = new LibC.EpollEvent { Events = LibC.EPOLLIN, Data = (ulong)cpu };
        if (LibC.epoll_ctl(_epollFd, LibC.EPOLL_CTL_ADD, ring.Fd, &ev) < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            LibC.close(_epollFd);
            throw new IOException($"epoll_ctl on ring buffer {cpu} failed: {LibC.ErrorText(errno)}");
        }
        _thread = new Thread(Run) { IsBackground = true, Name = $"flowmesh-ring-{cpu}" };
    }

    public void Start() => _thread.Start();

    /// <summary>Stops the thread, then drains whatever the kernel committed before it was detached.</summary>
    public void StopAndDrain()
    {
        _stopping = true;
        if (_thread.IsAlive)
            _thread.Join();
        DrainAll();
    }

    private void Run()
    {
        LibC.EpollEvent ev;
        while (!_stopping)
        {
            if (DrainAll() == 0)
                LibC.epoll_wait(_epollFd, &ev, 1, _pollMs); // EINTR or timeout: just poll again
        }
    }

    private int DrainAll()
    {
        var handler = new DecodingHandler(this);
        var total = 0;
        int n;
        do
        {
            n = _ring.Drain(ref handler, _batchSize - handler.Count);
            total += n;
            if (handler.Count >= _batchSize)
                handler.Flush();
        } while (n > 0);
        handler.Flush();
        return total;
    }

    public void Dispose()
    {
        _stopping = true;
        if (_thread.IsAlive)
            _thread.Join();
        LibC.close(_epollFd);
    }

    private struct DecodingHandler(CpuRingReader reader) : IRingRecordHandler
    {
        private TcpEventRecord[]? _batch;
        public int Count { get; private set; }

        public void Handle(ReadOnlySpan<byte> data)
        {
            var result = TcpEventRecord.TryRead(data, out var record);
            if (result != RecordDecodeResult.Ok)
            {
                reader.Stats.CountDecodeError(result);
                return;
            }
            _batch ??= RecordBatch.Rent(reader._batchSize);
            _batch[Count++] = record;
            reader.Stats.CountRecord();
        }

        public void Flush()
        {
            if (_batch is null || Count == 0)
                return;
            reader._sink.Deliver(new RecordBatch(reader.Cpu, _batch, Count));
            _batch = null;
            Count = 0;
        }
    }
}
