using System.Runtime.InteropServices;

namespace FlowMesh.Node.Kernel;

/// <summary>
/// The kernel time before which every event of every CPU ring has reached the flows: a
/// watermark over the per-CPU streams.
///
/// Why: each CPU has its own ring and its own reader, so one socket's events arrive out
/// of order (its close can be read before the handshake another CPU recorded). Measured
/// with tags off, handing a flow over at the first close it applied made 8% phantom
/// sessions. This is the usual merge of several timestamped streams: each stream
/// publishes how far it has been delivered, the minimum over streams is the horizon,
/// and an event (or a close) is acted on only once the horizon has passed it, when
/// nothing older can still come.
///
/// A CPU's time advances when its reader found its ring empty after a pass that began
/// at time T (the kernel stamps a record after reserving it, so nothing stamped before
/// T can appear later) and every batch it handed over before that has been routed to
/// its flows. An idle ring advances with the clock at every poll, so idle CPUs never hold
/// the horizon back. A reader that stalls does, but only for <see cref="MaxWait"/>: past
/// that the horizon moves on without it (<see cref="Effective"/>) and whoever acts on the
/// forced part counts it.
/// </summary>
public sealed class OrderingHorizon
{
    private readonly Cpu[] _cpus;
    private readonly Func<long> _nowNs;

    // One cache line per CPU: readers and capture actors of different CPUs write their own.
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    private struct Cpu
    {
        /// <summary>Kernel time up to which the reader has handed every record over (not necessarily routed yet).</summary>
        [FieldOffset(0)] public long ReadToNs;
        /// <summary>Kernel time up to which every record has been routed to its flow.</summary>
        [FieldOffset(8)] public long RoutedToNs;
        /// <summary>Batches handed over and not routed yet.</summary>
        [FieldOffset(16)] public int InFlight;
    }

    public OrderingHorizon(int cpus, TimeSpan maxWait, Func<long>? nowNs = null)
    {
        _cpus = new Cpu[Math.Max(1, cpus)];
        MaxWait = maxWait;
        _nowNs = nowNs ?? MonotonicClock.NowNs;
    }

    /// <summary>How far the horizon may lag the clock before it moves on without a stalled CPU.</summary>
    public TimeSpan MaxWait { get; }

    public int Cpus => _cpus.Length;

    /// <summary>Told whenever a CPU's time advanced (from the thread that advanced it).</summary>
    public Action? Advanced { get; set; }

    /// <summary>
    /// Told when events wait for the horizon: the readers in a long idle wait (whose CPU's
    /// time moves only when they poll) are woken to say how far their rings are drained.
    /// </summary>
    public Action? Wanted { get; set; }

    /// <summary>A batch of <paramref name="cpu"/> is on its way to be routed.</summary>
    public void BatchHandedOver(int cpu) => Interlocked.Increment(ref Slot(cpu).InFlight);

    /// <summary>A batch of <paramref name="cpu"/> has been routed: its records are in their flows' mailboxes.</summary>
    public void BatchRouted(int cpu)
    {
        Interlocked.Decrement(ref Slot(cpu).InFlight);
        TryAdvance(cpu);
    }

    /// <summary>The reader of <paramref name="cpu"/> found its ring empty after a pass that began at <paramref name="passStartNs"/>.</summary>
    public void Drained(int cpu, long passStartNs)
    {
        ref var slot = ref Slot(cpu);
        RaiseTo(ref slot.ReadToNs, passStartNs);
        TryAdvance(cpu);
    }

    /// <summary>The horizon itself: every event stamped before it has reached its flow.</summary>
    public long Current
    {
        get
        {
            var min = long.MaxValue;
            for (var i = 0; i < _cpus.Length; i++)
                min = Math.Min(min, Volatile.Read(ref _cpus[i].RoutedToNs));
            return min;
        }
    }

    /// <summary>
    /// The horizon to act on now: <see cref="Current"/>, or the clock less
    /// <see cref="MaxWait"/> when a stalled CPU holds it further back. Events between the
    /// two are acted on without the guarantee (<paramref name="trueNs"/> tells which).
    /// </summary>
    public long Effective(out long trueNs)
    {
        trueNs = Current;
        return Math.Max(trueNs, _nowNs() - (long)(MaxWait.TotalMilliseconds * 1_000_000));
    }

    private void TryAdvance(int cpu)
    {
        ref var slot = ref Slot(cpu);
        // Read the time first, then check nothing is in flight: a batch handed over after
        // that read is counted before the reader publishes a later time (see Drained), so a
        // zero here means every batch up to readTo has been routed.
        var readTo = Volatile.Read(ref slot.ReadToNs);
        if (Volatile.Read(ref slot.InFlight) != 0)
            return;
        if (RaiseTo(ref slot.RoutedToNs, readTo))
            Advanced?.Invoke();
    }

    private static bool RaiseTo(ref long location, long value)
    {
        var current = Volatile.Read(ref location);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
                return true;
            current = seen;
        }
        return false;
    }

    private ref Cpu Slot(int cpu) => ref _cpus[(uint)cpu % (uint)_cpus.Length];
}
