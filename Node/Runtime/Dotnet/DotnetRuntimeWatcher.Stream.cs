using System.Globalization;
using FlowMesh.Node.Kernel;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Node.Runtime.Dotnet;

/// <summary>
/// The reader's side: the stream parsed on the watcher's own thread, suspensions paired
/// into pauses, the horizon moved, counters sampled.
///
/// Timestamps: EventPipe stamps events with the target runtime's QueryPerformanceCounter,
/// which on Linux is clock_gettime(CLOCK_MONOTONIC) in ns at 1 GHz; TraceEvent hands that
/// raw value over as <see cref="TraceEvent.TimeStampQPC"/> (its DateTime and relative
/// milliseconds are derived from it). The only correction is a time namespace's offset. The
/// first event is checked against the Node's own clock, so another clock shows as a failure
/// rather than as pauses at the wrong time.
/// </summary>
public sealed partial class DotnetRuntimeWatcher
{
    private const string QueueLengthCounter = "threadpool-queue-length";
    private static readonly long MaxClockSkewNs = TimeSpan.FromSeconds(1).Ticks * 100;
    private static readonly long MaxFirstEventAgeNs = TimeSpan.FromMinutes(10).Ticks * 100;

    // Written by the reader thread only; read by any.
    private long _horizonNs;
    private long _queueLengthBits = BitConverter.DoubleToInt64Bits(double.NaN);
    private long _eventsLost;
    private long _unpaired;
    private long _maxDeliveryLagNs;
    private long _lastDeliveryLagNs;

    // The reader thread's own state: the suspension under way, if any.
    private ulong _openStartNs;
    private GCSuspendEEReason _openReason;
    private int? _openGeneration;
    private GCReason? _openGcReason;
    private bool _clockChecked;

    /// <summary>
    /// CLOCK_MONOTONIC time (ns) up to which this process's pauses are known: the stream has
    /// been read up to here, and no suspension that began before it is still open. A caller
    /// with an interval ending at T waits for <c>HorizonMonoNs &gt;= T</c> (or a final <see cref="Status"/>).
    /// It advances with each event, at least with each counter sample (the heartbeat).
    /// </summary>
    public ulong HorizonMonoNs => (ulong)Volatile.Read(ref _horizonNs);

    /// <summary>Whether the pauses up to <paramref name="monoNs"/> are all known: the horizon passed it, or the stream ended.</summary>
    public bool Covers(ulong monoNs) => HorizonMonoNs >= monoNs || Status == DotnetWatcherStatus.Ended;

    /// <summary>The latest thread-pool queue length sample (work items waiting); null before the first.</summary>
    public double? ThreadPoolQueueLength
    {
        get
        {
            var value = BitConverter.Int64BitsToDouble(Volatile.Read(ref _queueLengthBits));
            return double.IsNaN(value) ? null : value;
        }
    }

    /// <summary>Read time minus event time, for the latest counter sample and the largest seen (ns): the stream's delivery latency.</summary>
    public (long LastNs, long MaxNs) DeliveryLag => (Volatile.Read(ref _lastDeliveryLagNs), Volatile.Read(ref _maxDeliveryLagNs));

    /// <summary>The kept pauses that share time with [<paramref name="startMonoNs"/>, <paramref name="endMonoNs"/>), oldest first.</summary>
    public IReadOnlyList<GcPause> PausesBetween(ulong startMonoNs, ulong endMonoNs) => _pauses.Between(startMonoNs, endMonoNs);

    /// <summary>How many kept pauses share time with the interval, and how many ns of it they cover in all.</summary>
    public (int Count, ulong OverlapNs) OverlapWith(ulong startMonoNs, ulong endMonoNs) => _pauses.OverlapWith(startMonoNs, endMonoNs);

    private void Read()
    {
        EventPipeEventSource? source = null;
        try
        {
            // The constructor reads the stream's header: here, off the caller's thread.
            source = new EventPipeEventSource(_session!.EventStream);
            source.Clr.GCSuspendEEStart += OnSuspend;
            source.Clr.GCStart += OnGcStart;
            source.Clr.GCRestartEEStop += OnRestart;
            source.Dynamic.AddCallbackForProviderEvent(CountersProvider, "EventCounters", OnCounters);
            source.AllEvents += OnAnyEvent;
            source.Process();
            Interlocked.Exchange(ref _eventsLost, source.EventsLost);
            if (Volatile.Read(ref _disposed) != 0)
                Finish(DotnetWatcherStatus.Stopped, "stopped");
            else if (Finish(DotnetWatcherStatus.Ended, "the stream ended: the process exited"))
                _logger.LogDebug("The .NET runtime stream of pid {Pid} ended", Pid);
        }
        catch (Exception e)
        {
            // Whatever the parser throws ends this watcher, never the Node. A stream cut by
            // DisposeAsync, or by the process dying mid-block (TraceEvent then says
            // FormatException "Read past end of stream"), is an ordinary end.
            if (Volatile.Read(ref _disposed) != 0)
                Finish(DotnetWatcherStatus.Stopped, "stopped");
            else if ((e is IOException or FormatException or ObjectDisposedException) && Exits(Pid, _settings.StopTimeout))
                Finish(DotnetWatcherStatus.Ended, "the stream ended: the process exited");
            else if (Finish(DotnetWatcherStatus.Failed, $"reading the stream failed ({e.GetType().Name}: {e.Message})"))
                _logger.LogWarning("Stopped watching the .NET runtime of pid {Pid}: {Detail}", Pid, Detail);
        }
        finally
        {
            source?.Dispose();
            _completion.TrySetResult();
        }
    }

    /// <summary>
    /// Whether the process ends within <paramref name="within"/>: a dying process's socket is
    /// closed (and its stream cut) a moment before it turns into a zombie.
    /// </summary>
    private static bool Exits(int pid, TimeSpan within)
    {
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); DotnetProcessProbe.IsAlive(pid); Thread.Sleep(5))
        {
            if (clock.Elapsed > within)
                return false;
        }
        return true;
    }

    // TimeStampQPC is marked obsolete ("not obsolete but discouraged") to steer Windows users to
    // relative milliseconds; the raw counter is exactly what is wanted here: CLOCK_MONOTONIC ns.
#pragma warning disable CS0618
    private ulong HostMonoNs(TraceEvent data) => (ulong)(data.TimeStampQPC - Probe.MonotonicOffsetNs);
#pragma warning restore CS0618

    private void OnSuspend(GCSuspendEETraceData data)
    {
        if (_openStartNs != 0)
            Interlocked.Increment(ref _unpaired); // the last one's end was lost
        _openStartNs = HostMonoNs(data);
        _openReason = data.Reason;
        _openGeneration = null;
        _openGcReason = null;
    }

    private void OnGcStart(GCStartTraceData data)
    {
        if (_openStartNs == 0)
            return; // a GC that began outside a suspension we saw begin
        _openGeneration = data.Depth;
        _openGcReason = data.Reason;
    }

    private void OnRestart(GCNoUserDataTraceData data)
    {
        if (_openStartNs == 0)
        {
            Interlocked.Increment(ref _unpaired); // the session began mid-suspension, or its begin was lost
            return;
        }
        // The pause goes in before the suspension closes, so that a reader who sees the horizon past it also sees it.
        var endNs = HostMonoNs(data);
        _pauses.Add(new GcPause(_openStartNs, Math.Max(endNs, _openStartNs), _openReason, _openGeneration, _openGcReason));
        _openStartNs = 0;
        Advance(endNs);
    }

    private void OnCounters(TraceEvent data)
    {
        var lag = MonotonicClock.NowNs() - (long)HostMonoNs(data);
        Volatile.Write(ref _lastDeliveryLagNs, lag);
        if (lag > _maxDeliveryLagNs)
            Volatile.Write(ref _maxDeliveryLagNs, lag);
        if (data.PayloadValue(0) is IDictionary<string, object> outer && outer.TryGetValue("Payload", out var inner)
            && inner is IDictionary<string, object> fields && fields.TryGetValue("Name", out var name) && name is QueueLengthCounter
            && fields.TryGetValue("Mean", out var mean))
        {
            Volatile.Write(ref _queueLengthBits, BitConverter.DoubleToInt64Bits(Convert.ToDouble(mean, CultureInfo.InvariantCulture)));
        }
        Interlocked.Exchange(ref _eventsLost, ((EventPipeEventSource)data.Source).EventsLost);
    }

    private void OnAnyEvent(TraceEvent data)
    {
        var ns = HostMonoNs(data);
        if (!_clockChecked)
        {
            _clockChecked = true;
            var ageNs = MonotonicClock.NowNs() - (long)ns;
            if (ageNs < -MaxClockSkewNs || ageNs > MaxFirstEventAgeNs)
            {
                if (Finish(DotnetWatcherStatus.Failed, $"event timestamps are not this host's CLOCK_MONOTONIC ns (first event {ageNs / 1e9:0.###} s from now)"))
                    _logger.LogWarning("Stopped watching the .NET runtime of pid {Pid}: {Detail}", Pid, Detail);
                ((TraceEventDispatcher)data.Source).StopProcessing();
                return;
            }
        }
        Advance(ns);
    }

    /// <summary>The horizon moves to <paramref name="ns"/>, but never past the start of a suspension still open.</summary>
    private void Advance(ulong ns)
    {
        if (_openStartNs != 0 && _openStartNs < ns)
            ns = _openStartNs;
        if ((long)ns > _horizonNs)
            Volatile.Write(ref _horizonNs, (long)ns);
    }
}
