using System.Collections.Concurrent;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Latency;
using FlowMesh.Contracts.Messages;
using FlowMesh.Node.Kernel;
using FlowMesh.Node.Kernel.Native;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Node.Runtime;

/// <summary>
/// Follows the processes that own this host's traced sockets: once a second it reads their
/// kernel histograms (run queue, Go scheduling) into one-second slices for flows and 10 s
/// sketches for Redis, recognises Go and .NET processes (and attaches what they need),
/// writes the host's process list, and forgets processes that exited (deleting their kernel
/// entries, so the bounded tables never fill with the dead).
/// </summary>
internal sealed partial class RuntimeMonitor(KernelCapture kernel, RuntimeSettings settings, RedisConnection redis, RedisKeys keys, string hostId, ILogger logger)
    : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private const int PruneEveryTicks = 5;
    private const ulong StaleWaitNs = 10_000_000_000; // a queued thread unseen for 10 s has exited

    /// <summary>A flow handed over within this long of the last reading uses it; older, the kernel is read again.</summary>
    private const ulong FreshNs = 20_000_000;

    private readonly RuntimeSketchWriter _sketches = new(redis, keys, hostId, TimeSpan.FromHours(1));
    private readonly ConcurrentDictionary<uint, ProcessRuntime> _processes = new();
    private readonly ConcurrentDictionary<uint, byte> _noticed = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private Task? _loop;
    private long _ticks;
    private long _notWatched;

    /// <summary>Processes watched now.</summary>
    public int Watched => _processes.Count;

    /// <summary>Times a process with traced sockets could not be watched (per attempt, not per process): <see cref="RuntimeSettings.MaxProcesses"/> were already.</summary>
    public long NotWatched => Interlocked.Read(ref _notWatched);

    public void Start() => _loop = Task.Run(() => RunAsync(_stop.Token));

    /// <summary>A flow of this process is being handed over: watch it from the next tick if it is not yet (run-queue tracing may be off).</summary>
    public void Notice(uint tgid)
    {
        if (tgid == 0 || _processes.ContainsKey(tgid) || _noticed.ContainsKey(tgid))
            return;
        if (_processes.Count + _noticed.Count >= settings.MaxProcesses)
        {
            Interlocked.Increment(ref _notWatched);
            return;
        }
        if (_noticed.TryAdd(tgid, 0) && _wake.CurrentCount == 0)
        {
            // Inspected now rather than at the next tick: a short-lived client's next connections then carry its goroutines.
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // woken already
            }
        }
    }

    /// <summary>
    /// The process's figures over a flow's life, for its hand-off; the run queue is read from
    /// the kernel first if the last reading is older than a few milliseconds. Thread-safe.
    /// </summary>
    public ProcessRuntime? Describe(FlowRuntime runtime, uint tgid, ulong startNs, ulong endNs)
    {
        if (!_processes.TryGetValue(tgid, out var process))
            return null;
        var now = (ulong)MonotonicClock.NowNs();
        if (now - process.ReadNs > FreshNs)
        {
            process.ReadNs = now;
            var maps = kernel.RuntimeMaps;
            if (settings.RunQueue && TryRead(maps.RunQueueHistogramsFd, tgid, out var runQueue))
                process.AddRunQueue(runQueue, now, sketch: null);
            if (process.GoScheduleTraced && TryRead(maps.GoHistogramsFd, tgid, out var goSchedule))
                process.AddGoSchedule(goSchedule, now, sketch: null);
        }
        process.Describe(runtime, startNs, endNs);
        return process;
    }

    /// <summary>
    /// Adds what the flow's process did over [startNs, endNs] to its view (run queue, Go
    /// scheduling, GC pauses), and watches the process from the next tick if it is new.
    /// Called by the flow shards at every hand-off.
    /// </summary>
    public void Describe(FlowView view, uint tgid, ulong startNs, ulong endNs)
    {
        if (tgid == 0)
            return;
        if (!_processes.ContainsKey(tgid))
        {
            Notice(tgid); // nothing to add yet: no view is made for it
            return;
        }
        var runtime = view.Runtime ?? new FlowRuntime();
        if (Describe(runtime, tgid, startNs, endNs) is not null)
            view.Runtime = runtime;
    }

    /// <summary>
    /// How long a closed flow of this process should wait before its hand-off so that its
    /// runtime events have arrived (0: none to wait for). Only .NET processes' GC pauses come late.
    /// </summary>
    public int HandOverWaitMs(uint tgid, ulong closedNs) =>
        _processes.TryGetValue(tgid, out var process) && process.GcEventsBehind(closedNs) ? settings.DotnetMaxWaitMs : 0;

    private async Task RunAsync(CancellationToken stop)
    {
        var next = Environment.TickCount64 + (long)Interval.TotalMilliseconds;
        try
        {
            while (true)
            {
                var woken = await _wake.WaitAsync(TimeSpan.FromMilliseconds(Math.Max(0, next - Environment.TickCount64)), stop).ConfigureAwait(false);
                try
                {
                    if (woken)
                    {
                        await AddNoticedAsync().ConfigureAwait(false);
                        continue;
                    }
                    next = Environment.TickCount64 + (long)Interval.TotalMilliseconds;
                    await TickAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Runtime monitor: a pass failed; the next one starts in a second");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task TickAsync()
    {
        var now = (ulong)MonotonicClock.NowNs();
        var unixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var ticks = ++_ticks;

        var maps = kernel.RuntimeMaps;
        foreach (var tgid in Keys(maps.RunQueueHistogramsFd))
        {
            if (_processes.TryGetValue(tgid, out var known))
                known.ReadNs = now;
            var process = _processes.GetValueOrDefault(tgid) ?? await AddAsync(tgid).ConfigureAwait(false);
            if (process is not null && TryRead(maps.RunQueueHistogramsFd, tgid, out var cumulative))
                process.AddRunQueue(cumulative, now, _sketches.For(RuntimeSeries.Process(hostId, process.Comm), RuntimeSeries.RunQueue, unixMs));
        }
        await AddNoticedAsync().ConfigureAwait(false);
        foreach (var process in _processes.Values)
        {
            if (process.GoScheduleTraced && TryRead(maps.GoHistogramsFd, process.Tgid, out var go))
                process.AddGoSchedule(go, now, _sketches.For(RuntimeSeries.Process(hostId, process.Comm), RuntimeSeries.GoSchedule, unixMs));
            CollectGcPauses(process, unixMs);
        }
        if (ticks % PruneEveryTicks == 0)
            await PruneAsync(now).ConfigureAwait(false);
        await _sketches.FlushAsync(unixMs).ConfigureAwait(false);
        await WriteProcessesAsync(unixMs).ConfigureAwait(false);
    }

    private async Task AddNoticedAsync()
    {
        foreach (var tgid in _noticed.Keys)
        {
            _noticed.TryRemove(tgid, out _);
            if (!_processes.ContainsKey(tgid))
                await AddAsync(tgid).ConfigureAwait(false);
        }
    }

    private async Task<ProcessRuntime?> AddAsync(uint tgid)
    {
        if (_processes.Count >= settings.MaxProcesses)
        {
            Interlocked.Increment(ref _notWatched);
            return null;
        }
        string comm;
        try
        {
            comm = (await File.ReadAllTextAsync($"/proc/{tgid}/comm").ConfigureAwait(false)).TrimEnd('\n');
        }
        catch (IOException)
        {
            Forget(tgid); // gone already
            return null;
        }
        var process = new ProcessRuntime(tgid, comm);
        _processes[tgid] = process;
        InspectGo(process);
        await InspectDotnetAsync(process).ConfigureAwait(false);
        return process;
    }

    /// <summary>Forgets the processes that exited, and the kernel's entries for threads that left without running again.</summary>
    private async Task PruneAsync(ulong now)
    {
        foreach (var process in _processes.Values)
        {
            if (Directory.Exists($"/proc/{process.Tgid}"))
                continue;
            _processes.TryRemove(process.Tgid, out _);
            Forget(process.Tgid);
            await DisposeDotnetAsync(process).ConfigureAwait(false);
        }
        var maps = kernel.RuntimeMaps;
        foreach (var tid in Keys(maps.RunQueueStartsFd))
        {
            if (TryReadValue(maps.RunQueueStartsFd, tid, out var queuedNs) && now > queuedNs && now - queuedNs > StaleWaitNs)
                Delete(maps.RunQueueStartsFd, tid);
        }
    }

    private void Forget(uint tgid)
    {
        var maps = kernel.RuntimeMaps;
        Delete(maps.RunQueueHistogramsFd, tgid);
        Delete(maps.GoProcessesFd, tgid);
        Delete(maps.GoHistogramsFd, tgid);
    }

    private async Task WriteProcessesAsync(long unixMs)
    {
        if (_processes.IsEmpty)
            return;
        var key = keys.RuntimeProcesses(hostId);
        var fields = new List<StackExchange.Redis.HashEntry>(_processes.Count);
        foreach (var process in _processes.Values)
            fields.Add(new(process.Tgid, ViewOf(process, unixMs).ToByteArray()));
        try
        {
            var db = redis.Database;
            // Replaced whole each second, so processes that exited leave the list.
            var batch = db.CreateBatch();
            var writes = new[]
            {
                batch.KeyDeleteAsync(key), batch.HashSetAsync(key, [.. fields]), batch.KeyExpireAsync(key, TimeSpan.FromSeconds(30)),
                batch.SetAddAsync(keys.RuntimeHosts, hostId), batch.KeyExpireAsync(keys.RuntimeHosts, TimeSpan.FromDays(1)),
            };
            batch.Execute();
            await Task.WhenAll(writes).ConfigureAwait(false);
            redis.Succeeded(write: true);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "write the runtime process list");
        }
    }

    private ProcessRuntimeView ViewOf(ProcessRuntime process, long unixMs)
    {
        var view = new ProcessRuntimeView
        {
            HostId = hostId,
            Pid = process.Tgid,
            Comm = process.Comm,
            Runtime = process.Kind,
            RunQueueWaits = process.RunQueueTotal,
            UpdatedUnixMs = unixMs,
            Note = process.Note ?? "",
        };
        if (process.Go is { } go)
        {
            view.GoVersion = go.GoVersion;
            view.GoScheduleTraced = process.GoScheduleTraced;
            view.RunnableGoroutines = process.RunnableGoroutines;
        }
        DescribeDotnet(process, view);
        return view;
    }

    private static List<uint> Keys(int fd)
    {
        var keys = new List<uint>();
        unsafe
        {
            uint key = 0, next;
            var first = true;
            while (LibBpf.bpf_map_get_next_key(fd, first ? null : &key, &next) == 0)
            {
                keys.Add(next);
                key = next;
                first = false;
                if (keys.Count > 1 << 20)
                    break; // a map that changes under the walk can restart it; never loop for ever
            }
        }
        return keys;
    }

    private static unsafe bool TryRead(int fd, uint tgid, out RuntimeHistogramRecord value)
    {
        value = default;
        fixed (RuntimeHistogramRecord* v = &value)
            return LibBpf.bpf_map_lookup_elem(fd, &tgid, v) == 0;
    }

    private static unsafe bool TryReadValue(int fd, uint key, out ulong value)
    {
        value = 0;
        fixed (ulong* v = &value)
            return LibBpf.bpf_map_lookup_elem(fd, &key, v) == 0;
    }

    private static unsafe void Delete(int fd, uint key) => _ = LibBpf.bpf_map_delete_elem(fd, &key);

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
        foreach (var process in _processes.Values)
            await DisposeDotnetAsync(process).ConfigureAwait(false);
        DetachGoProbes();
        _stop.Dispose();
        _wake.Dispose();
    }
}
