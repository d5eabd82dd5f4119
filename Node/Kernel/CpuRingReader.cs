using System.Runtime.InteropServices;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Kernel.Native;

namespace FlowMesh.Node.Kernel;

/// <summary>
/// Reads one CPU's ring buffer on a dedicated thread: decodes each record into a
/// pooled batch and hands full batches (or whatever it has when the ring runs dry)
/// to the sink. The thread sleeps in epoll between polls; the kernel only wakes it
/// early when the ring fills past the configured threshold. After each pass that left
/// the ring empty it tells the sink how far the ring is drained (the time the pass
/// began), which is what orders events across CPUs.
///
/// An idle ring is polled less and less often (the wait doubles from the poll interval
/// up to <see cref="MaxIdleWaitMs"/>): polling every 2 ms cost an idle Node ~6% of a core
/// for nothing. A ring that has records is back to the poll interval at once, and a
/// reader that sleeps long while other CPUs' events wait for it is woken (<see cref="Nudge"/>).
/// </summary>
internal sealed unsafe class CpuRingReader : IDisposable
{
    private readonly RingBuffer _ring;
    private readonly IRecordBatchSink _sink;
    private readonly int _pollMs;
    private readonly int _batchSize;
    private readonly int _epollFd;
    private readonly int _wakeFd;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private volatile bool _sleepingLong;

    /// <summary>The longest an idle reader waits between passes.</summary>
    public const int MaxIdleWaitMs = 16;

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
        _thread = new Thread(Run) { IsBackground = true, Name = $"flowmesh-ring-{cpu}" };
        // Stopping writes to this eventfd so the thread leaves epoll_wait at once instead of after a poll interval.
        _wakeFd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        try
        {
            if (_wakeFd < 0)
                throw new IOException($"eventfd failed: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
            Watch(_wakeFd, "its wake-up eventfd");
            if (ring.Fd >= 0) // a ring over plain memory (tests) has nothing to wait on
                Watch(ring.Fd, "its ring buffer");
        }
        catch
        {
            if (_wakeFd >= 0)
                LibC.close(_wakeFd);
            LibC.close(_epollFd);
            throw;
        }
    }

    private void Watch(int fd, string what)
    {
        var ev = new LibC.EpollEvent { Events = LibC.EPOLLIN, Data = (ulong)fd };
        if (LibC.epoll_ctl(_epollFd, LibC.EPOLL_CTL_ADD, fd, &ev) < 0)
            throw new IOException($"epoll_ctl for CPU {Cpu}'s reader on {what} failed: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
    }

    public void Start() => _thread.Start();

    /// <summary>Asks the thread to stop and wakes it; <see cref="StopAndDrain"/> waits for it.</summary>
    public void RequestStop()
    {
        _stopping = true;
        ulong one = 1;
        _ = LibC.write(_wakeFd, (byte*)&one, sizeof(ulong));
    }

    /// <summary>Stops the thread, then drains whatever the kernel committed before it was detached.</summary>
    public void StopAndDrain()
    {
        RequestStop();
        if (_thread.IsAlive)
            _thread.Join();
        DrainPass();
    }

    private void Run()
    {
        LibC.EpollEvent ev;
        var waitMs = _pollMs;
        while (!_stopping)
        {
            if (DrainPass() > 0)
            {
                waitMs = _pollMs;
                continue;
            }
            _sleepingLong = waitMs > _pollMs;
            if (LibC.epoll_wait(_epollFd, &ev, 1, waitMs) > 0 && ev.Data == (ulong)_wakeFd)
            {
                ulong count;
                _ = LibC.read(_wakeFd, (byte*)&count, sizeof(ulong)); // a nudge (or the stop): reset the eventfd
            }
            _sleepingLong = false;
            waitMs = Math.Min(waitMs * 2, Math.Max(_pollMs, MaxIdleWaitMs)); // EINTR or timeout: poll again, a little later
        }
    }

    /// <summary>Wakes the reader now if it is in a long idle wait: events of other CPUs wait for it to say how far its ring is drained.</summary>
    public void Nudge()
    {
        if (!_sleepingLong)
            return;
        ulong one = 1;
        _ = LibC.write(_wakeFd, (byte*)&one, sizeof(ulong));
    }

    /// <summary>
    /// Drains the ring and, if it is empty at the end, tells the sink it is drained up to
    /// the time the pass began: the kernel stamps a record after reserving its place, so a
    /// record stamped before then was either read or is still being written (and then the
    /// ring is not empty).
    /// </summary>
    private int DrainPass()
    {
        var passStartNs = MonotonicClock.NowNs();
        var n = DrainAll();
        if (_ring.Pending == 0)
            _sink.Drained(Cpu, passStartNs);
        return n;
    }

    /// <summary>Reads until the ring is empty (or the kernel is mid-write); returns the records consumed.</summary>
    internal int DrainAll()
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
        RequestStop();
        if (_thread.IsAlive)
            _thread.Join();
        LibC.close(_wakeFd);
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
