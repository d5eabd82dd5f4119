namespace FlowMesh.Node.Kernel;

/// <summary>
/// A running capture: the loaded programs plus one reader thread per CPU ring, all
/// delivering to one sink. <see cref="Stop"/> detaches first and then drains, so every
/// record the kernel committed is delivered and the summary's numbers add up.
/// </summary>
public sealed class CaptureSession : IDisposable
{
    private readonly KernelCapture _kernel;
    private readonly List<CpuRingReader> _readers;
    private CaptureSummary? _final;

    private CaptureSession(KernelCapture kernel, List<CpuRingReader> readers)
    {
        _kernel = kernel;
        _readers = readers;
    }

    public NetworkNamespace Namespace => _kernel.Namespace;
    public int Cpus => _readers.Count;

    /// <summary>Sockets reported as already open when the capture started.</summary>
    public int ExistingSockets { get; private set; }

    /// <summary>CLOCK_MONOTONIC-to-wall-clock conversion, sampled at start.</summary>
    public MonotonicClock Clock { get; } = MonotonicClock.Sample();

    /// <summary>Loads, starts the readers, attaches and reports existing sockets. Throws <see cref="CaptureStartException"/>.</summary>
    public static CaptureSession Start(CaptureOptions options, IRecordBatchSink sink)
    {
        var kernel = KernelCapture.Load(options);
        var readers = new List<CpuRingReader>();
        try
        {
            for (var cpu = 0; cpu < kernel.Rings.Count; cpu++)
                readers.Add(new CpuRingReader(cpu, kernel.Rings[cpu], sink, options.PollMs, options.BatchSize));
            // Readers first: a busy host fills the rings from the moment programs attach.
            foreach (var reader in readers)
                reader.Start();
            var session = new CaptureSession(kernel, readers);
            // Before the programs attach, so that the first SYN is signed already.
            kernel.SetTagKey(options.TagKey);
            kernel.Attach();
            if (options.ReportExistingSockets)
                session.ExistingSockets = kernel.ReportExistingSockets();
            return session;
        }
        catch
        {
            foreach (var reader in readers)
                reader.Dispose();
            kernel.Dispose();
            throw;
        }
    }

    /// <summary>Wakes the readers that sleep in a long idle wait (see <see cref="CpuRingReader.Nudge"/>).</summary>
    public void NudgeReaders()
    {
        foreach (var reader in _readers)
            reader.Nudge();
    }

    /// <summary>Signs this host's tags with <paramref name="key"/> from now on (a key rotation), or with none.</summary>
    public void SetTagKey(Flows.TagAuthenticator.Key? key) => _kernel.SetTagKey(key);

    /// <summary>The loaded programs, for the runtime monitor (its tables, the Go probe, what could not be attached).</summary>
    public KernelCapture Kernel => _kernel;

    /// <summary>Counters so far (kernel and readers), per CPU.</summary>
    public CaptureSummary Snapshot() => _final ?? BuildSummary();

    /// <summary>Detaches the programs, drains every ring and returns the final counters.</summary>
    public CaptureSummary Stop()
    {
        if (_final is not null)
            return _final;
        _kernel.Detach();
        foreach (var reader in _readers)
            reader.RequestStop();
        foreach (var reader in _readers)
            reader.StopAndDrain();
        _final = BuildSummary();
        return _final;
    }

    private CaptureSummary BuildSummary()
    {
        var kernel = _kernel.ReadKernelCounters();
        var cpus = new CpuSummary[_readers.Count];
        for (var i = 0; i < cpus.Length; i++)
        {
            var k = i < kernel.Length ? kernel[i] : default;
            var s = _readers[i].Stats;
            cpus[i] = new CpuSummary(i, s.Records, (long)(k.ReserveFailed + k.NoRing), s.DecodeErrors, (long)k.StorageFailed,
                (long)k.RunQueueProcessesFull, (long)k.RunQueueThreadsFull);
        }
        return new CaptureSummary(cpus);
    }

    public void Dispose()
    {
        Stop();
        foreach (var reader in _readers)
            reader.Dispose();
        _kernel.Dispose();
    }
}

/// <summary>One CPU's counts: delivered records, kernel drops (ring full), malformed records.</summary>
public sealed record CpuSummary(int Cpu, long Records, long Drops, long DecodeErrors, long StorageFailures, long RuntimeProcessesFull = 0, long RuntimeTableFull = 0);

public sealed record CaptureSummary(IReadOnlyList<CpuSummary> Cpus)
{
    public long Records => Sum(c => c.Records);
    public long Drops => Sum(c => c.Drops);
    public long DecodeErrors => Sum(c => c.DecodeErrors);
    public long StorageFailures => Sum(c => c.StorageFailures);
    public long RuntimeProcessesFull => Sum(c => c.RuntimeProcessesFull);
    public long RuntimeTableFull => Sum(c => c.RuntimeTableFull);

    private long Sum(Func<CpuSummary, long> f)
    {
        long total = 0;
        foreach (var c in Cpus)
            total += f(c);
        return total;
    }
}
