using System.Diagnostics;
using FlowMesh.Node.Kernel;
using FlowMesh.Node.Runtime.Dotnet;
using FlowMesh.SystemTests.Harness;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace FlowMesh.SystemTests;

/// <summary>
/// The runtime watcher against a real .NET server whose /gc forces a blocking gen2
/// collection and reports, by its own CLOCK_MONOTONIC readings, when the collection ran:
/// every pause the watcher reports is held to those readings and to the server's own
/// count of collections, never to anything the watcher computed.
/// </summary>
public sealed class DotnetRuntimeWatcherTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);
    // The runtime names the thread that streams a session's events (and its diagnostics server's) so.
    private const string EventPipeThread = ".NET EventPipe";

    private readonly TestLogger _log = new();
    private readonly DotnetWatcherSettings _settings = new();

    [Fact]
    public async Task Each_forced_GC_pause_lies_inside_the_interval_the_server_measured()
    {
        RequireRoot();
        await using var server = await GcServerProcess.StartAsync();
        var threadsBefore = server.ThreadsNamed(EventPipeThread);
        await using var watcher = await DotnetRuntimeWatcher.AttachAsync(server.Pid, _settings, _log);
        Assert.True(watcher.Status == DotnetWatcherStatus.Watching, watcher.Detail);
        var attached = (ulong)Now();
        await UntilAsync(() => watcher.Covers(attached), "the horizon to pass the attach", watcher);

        var visibleAfterMs = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var reply = await server.GetAsync("/gc");
            var replied = Stopwatch.StartNew();
            Assert.True(reply.Collections >= 1, $"the server made no collection: {reply}");
            await UntilAsync(() => watcher.Covers((ulong)reply.AfterNs), "the horizon to pass the collection", watcher);
            visibleAfterMs.Add(replied.Elapsed.TotalMilliseconds);

            var inside = watcher.PausesBetween((ulong)reply.BeforeNs, (ulong)reply.AfterNs);
            var collections = inside.Where(p => p.Generation is not null).ToList();
            // As many GCs as the server counted, each wholly inside its interval: GC.Collect returns only after the threads are restarted.
            Assert.True(collections.Count == reply.Collections, $"server counted {reply.Collections} collections in [{reply.BeforeNs}, {reply.AfterNs}], watcher saw [{string.Join(", ", inside)}]");
            var forced = Assert.Single(collections, p => p.Generation == 2);
            Assert.InRange(forced.StartMonoNs, (ulong)reply.BeforeNs, (ulong)reply.AfterNs);
            Assert.InRange(forced.EndMonoNs, forced.StartMonoNs + 1, (ulong)reply.AfterNs);
            Assert.Equal(GCSuspendEEReason.SuspendForGC, forced.SuspendReason);
            Assert.True(forced.Reason is GCReason.Induced or GCReason.InducedCompacting, $"reason {forced.Reason}");

            // The overlap sums each pause's share of the interval: the whole of a pause inside,
            // the part after a cut through one.
            var (count, overlapNs) = watcher.OverlapWith((ulong)reply.BeforeNs, (ulong)reply.AfterNs);
            Assert.Equal(inside.Count, count);
            Assert.Equal(inside.Aggregate(0UL, (sum, p) => sum + p.OverlapNs((ulong)reply.BeforeNs, (ulong)reply.AfterNs)), overlapNs);
            Assert.InRange(overlapNs, forced.DurationNs, (ulong)(reply.AfterNs - reply.BeforeNs));
            var cut = forced.StartMonoNs + forced.DurationNs / 2;
            Assert.Equal(forced.EndMonoNs - cut, watcher.OverlapWith(cut, forced.EndMonoNs + 1).OverlapNs);
            Assert.Equal((0, 0UL), watcher.OverlapWith((ulong)reply.BeforeNs - 1, (ulong)reply.BeforeNs));
        }
        Assert.Equal(0, watcher.Counters.EventsLost);
        Assert.Equal(0, watcher.Counters.SessionsFailed);
        Assert.True(watcher.Counters.PausesSeen >= 5, $"{watcher.Counters}");
        await UntilAsync(() => watcher.ThreadPoolQueueLength is not null, "a thread-pool queue length sample", watcher);

        var lags = await SampleHorizonLagAsync(watcher, TimeSpan.FromSeconds(5));
        output.WriteLine($"pause known after the reply: {Summary(visibleAfterMs)}; horizon behind the clock (idle): {Summary(lags)}; delivery lag of counter samples: last {watcher.DeliveryLag.LastNs / 1e6:0.#} ms, max {watcher.DeliveryLag.MaxNs / 1e6:0.#} ms");

        Assert.Equal(threadsBefore + 1, server.ThreadsNamed(EventPipeThread));
        await watcher.DisposeAsync();
        Assert.Equal(DotnetWatcherStatus.Stopped, watcher.Status);
        // The session is gone from the target, not just from our side.
        await UntilAsync(() => server.ThreadsNamed(EventPipeThread) == threadsBefore, "the target's session thread to end", watcher);
        Assert.Empty(_log.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task A_request_without_a_collection_overlaps_no_GC_pause()
    {
        RequireRoot();
        await using var server = await GcServerProcess.StartAsync();
        await using var watcher = await DotnetRuntimeWatcher.AttachAsync(server.Pid, _settings, _log);
        Assert.True(watcher.Status == DotnetWatcherStatus.Watching, watcher.Detail);
        _ = await server.GetAsync("/gc"); // so that the watcher has pauses to (not) find

        var replies = new List<ServerReply>();
        for (var i = 0; i < 20; i++)
            replies.Add(await server.GetAsync("/"));
        await UntilAsync(() => watcher.Covers((ulong)replies[^1].AfterNs), "the horizon to pass the requests", watcher);

        var checkedReplies = 0;
        foreach (var reply in replies)
        {
            Assert.Equal("ok\n", reply.Body);
            if (reply.Collections != 0)
                continue; // a GC did happen (the runtime's own): then it is not a request without one
            checkedReplies++;
            var pauses = watcher.PausesBetween((ulong)reply.BeforeNs, (ulong)reply.AfterNs);
            Assert.True(!pauses.Any(p => p.IsForGc), $"no collection in [{reply.BeforeNs}, {reply.AfterNs}] by the server's count, yet the watcher saw [{string.Join(", ", pauses)}]");
        }
        Assert.True(checkedReplies >= 15, $"only {checkedReplies} of 20 requests ran without a collection");
        Assert.True(watcher.Counters.PausesSeen >= 1, $"{watcher.Counters}");
    }

    [Theory]
    [InlineData(9)]  // SIGKILL: the stream is cut mid-block
    [InlineData(15)] // SIGTERM: the runtime shuts down and ends the stream itself
    public async Task The_watcher_ends_cleanly_when_the_process_ends(int signal)
    {
        RequireRoot();
        await using var server = await GcServerProcess.StartAsync();
        await using var watcher = await DotnetRuntimeWatcher.AttachAsync(server.Pid, _settings, _log);
        Assert.True(watcher.Status == DotnetWatcherStatus.Watching, watcher.Detail);
        _ = await server.GetAsync("/gc");
        await UntilAsync(() => watcher.Counters.PausesSeen >= 1, "the pause of the first /gc", watcher);

        ProcessControl.Signal(server.Process, signal);
        await watcher.Completion.WaitAsync(Deadline);
        Assert.True(watcher.Status == DotnetWatcherStatus.Ended, $"{watcher.Status}: {watcher.Detail}");
        Assert.True(watcher.Covers(ulong.MaxValue), "an ended stream covers all time: there are no more pauses to wait for");
        Assert.True(watcher.Counters.PausesSeen >= 1);
        await watcher.DisposeAsync(); // after the end: nothing to stop, no exception
        Assert.Equal(DotnetWatcherStatus.Ended, watcher.Status);
        Assert.Empty(_log.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task Disposing_does_not_hang_on_a_frozen_process_and_its_session_ends_when_it_thaws()
    {
        RequireRoot();
        await using var server = await GcServerProcess.StartAsync();
        var threadsBefore = server.ThreadsNamed(EventPipeThread);
        var settings = new DotnetWatcherSettings { StopTimeout = TimeSpan.FromSeconds(1) };
        var watcher = await DotnetRuntimeWatcher.AttachAsync(server.Pid, settings, _log);
        Assert.True(watcher.Status == DotnetWatcherStatus.Watching, watcher.Detail);

        ProcessControl.Signal(server.Process, ProcessControl.SigStop); // it cannot answer the stop command
        try
        {
            var disposing = Stopwatch.StartNew();
            await watcher.DisposeAsync().AsTask().WaitAsync(Deadline);
            // The stop is given up after StopTimeout and the stream cut: the caller waits no longer.
            Assert.InRange(disposing.Elapsed, TimeSpan.Zero, settings.StopTimeout + TimeSpan.FromSeconds(3));
            Assert.Equal(DotnetWatcherStatus.Stopped, watcher.Status);
        }
        finally
        {
            ProcessControl.Signal(server.Process, ProcessControl.SigCont);
        }
        // Thawed, the runtime finds the connection gone and ends the session itself.
        await UntilAsync(() => server.ThreadsNamed(EventPipeThread) == threadsBefore, "the target's session thread to end", watcher);
    }

    [Fact]
    public async Task A_process_that_is_not_dotnet_is_reported_as_such()
    {
        RequireRoot();
        using var sleep = Process.Start(new ProcessStartInfo("sleep", "60"))!;
        try
        {
            Assert.False(DotnetProcessProbe.IsDotnet(sleep.Id));
            Assert.Null(DotnetProcessProbe.FindDiagnosticsSocket(sleep.Id));
            await using var watcher = await DotnetRuntimeWatcher.AttachAsync(sleep.Id, _settings, _log);
            Assert.Equal(DotnetWatcherStatus.NotDotnet, watcher.Status);
            Assert.Contains("no .NET runtime", watcher.Detail, StringComparison.Ordinal);
            Assert.Empty(watcher.PausesBetween(0, ulong.MaxValue));
            Assert.Null(watcher.ThreadPoolQueueLength);
            Assert.True(watcher.Completion.IsCompleted);
        }
        finally
        {
            sleep.Kill();
        }
        var gone = sleep.Id;
        await sleep.WaitForExitAsync();
        Assert.Equal(DotnetProbeStatus.Gone, DotnetProcessProbe.Probe(gone).Status);
        Assert.Empty(_log.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task A_process_with_diagnostics_disabled_is_a_clear_one_line_failure()
    {
        RequireRoot();
        await using var server = await GcServerProcess.StartAsync(new Dictionary<string, string> { ["DOTNET_EnableDiagnostics"] = "0" });
        Assert.True(DotnetProcessProbe.IsDotnet(server.Pid));
        // What a killed runtime that had the same pid before would have left behind (pids are reused).
        var leftover = $"/tmp/dotnet-diagnostic-{server.Pid}-1-socket";
        await File.WriteAllTextAsync(leftover, "");
        File.SetLastWriteTimeUtc(leftover, DateTime.UtcNow.AddHours(-1));
        await using var watcher = await DotnetRuntimeWatcher.AttachAsync(server.Pid, _settings, _log);
        File.Delete(leftover);

        Assert.Equal(DotnetWatcherStatus.Unavailable, watcher.Status);
        Assert.Equal(DotnetProbeStatus.DiagnosticsDisabled, watcher.Probe.Status);
        var line = Assert.Single(_log.AtLeast(LogLevel.Warning));
        Assert.Equal($"Not watching the .NET runtime of pid {server.Pid}: pid {server.Pid} runs .NET with DOTNET_EnableDiagnostics=0: it has no diagnostics socket", line);
        Assert.Empty(watcher.PausesBetween(0, ulong.MaxValue));
    }

    [Fact]
    public async Task A_process_in_a_container_of_its_own_is_found_and_its_clock_mapped_to_the_host()
    {
        RequireRoot();
        // Its own pid namespace (it is pid 1 there), its own /tmp (a tmpfs the host cannot see),
        // TMPDIR below it, and a time namespace whose CLOCK_MONOTONIC runs an hour ahead (and
        // CLOCK_BOOTTIME two, which moves the start time the runtime names its socket by).
        const long offsetNs = 3600L * 1_000_000_000;
        await using var server = await GcServerProcess.StartAsync(wrap: command =>
            ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--time", "--monotonic", "3600", "--boottime", "7200", "sh", "-c",
             $"mount -t tmpfs tmpfs /tmp && mkdir /tmp/inner && TMPDIR=/tmp/inner exec {command}"]);
        Assert.Equal(1, server.OwnPid);
        Assert.NotEqual(1, server.Pid);

        var probe = DotnetProcessProbe.Probe(server.Pid);
        Assert.Equal(DotnetProbeStatus.Attachable, probe.Status);
        Assert.Equal(1, probe.NamespacePid);
        Assert.Equal(offsetNs, probe.MonotonicOffsetNs);
        // Named by the start time as the process reads it: the host's plus the boottime offset, in 1/100 s.
        var startTicks = DotnetProcessProbe.StartTimeTicks(await File.ReadAllTextAsync($"/proc/{server.Pid}/stat"))!.Value;
        Assert.Equal($"/proc/{server.Pid}/root/tmp/inner/dotnet-diagnostic-1-{startTicks + 7200 * 100}-socket", probe.SocketPath);
        Assert.Empty(Directory.GetFiles("/tmp", "dotnet-diagnostic-1-*")); // nothing in the host's /tmp to find it by

        await using var watcher = await DotnetRuntimeWatcher.AttachAsync(server.Pid, _settings, _log);
        Assert.True(watcher.Status == DotnetWatcherStatus.Watching, watcher.Detail);
        var sent = (ulong)Now();
        var reply = await server.GetAsync("/gc");
        var received = (ulong)Now();
        // The server's readings are in its namespace's clock: on the host's, they fall between ours.
        var beforeNs = (ulong)(reply.BeforeNs - offsetNs);
        var afterNs = (ulong)(reply.AfterNs - offsetNs);
        Assert.InRange(beforeNs, sent, afterNs);
        Assert.InRange(afterNs, beforeNs, received);

        await UntilAsync(() => watcher.Covers(afterNs), "the horizon to pass the collection", watcher);
        var forced = Assert.Single(watcher.PausesBetween(beforeNs, afterNs), p => p.Generation == 2);
        Assert.InRange(forced.StartMonoNs, beforeNs, afterNs);
        Assert.InRange(forced.EndMonoNs, forced.StartMonoNs + 1, afterNs);
    }

    [Fact]
    public async Task The_GC_server_exits_0_on_SIGTERM()
    {
        await using var server = await GcServerProcess.StartAsync();
        Assert.Equal("ok\n", (await server.GetAsync("/")).Body);
        ProcessControl.Signal(server.Process, ProcessControl.SigTerm);
        await server.Process.WaitForExitAsync().WaitAsync(Deadline);
        Assert.Equal(0, server.Process.ExitCode);
    }

    private static long Now() => MonotonicClock.NowNs();

    private static void RequireRoot()
    {
        // Attaching to another process's runtime needs its uid or root; unshare needs CAP_SYS_ADMIN.
        if (Environment.UserName != "root")
            throw new XunitException($"the runtime watcher tests need root (running as {Environment.UserName}): run ./test.sh as root (sudo ./test.sh)");
    }

    private static async Task UntilAsync(Func<bool> condition, string what, DotnetRuntimeWatcher watcher)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Deadline)
                throw new XunitException($"no {what} within {Deadline.TotalSeconds} s (watcher {watcher.Status}: {watcher.Detail}; horizon {Now() - (long)watcher.HorizonMonoNs} ns behind; {watcher.Counters})");
            await Task.Delay(5);
        }
    }

    /// <summary>How far the horizon trails the clock (ms), sampled every 10 ms.</summary>
    private static async Task<List<double>> SampleHorizonLagAsync(DotnetRuntimeWatcher watcher, TimeSpan duration)
    {
        var lags = new List<double>();
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < duration; await Task.Delay(10))
            lags.Add((Now() - (long)watcher.HorizonMonoNs) / 1e6);
        return lags;
    }

    private static string Summary(List<double> ms)
    {
        ms.Sort();
        return $"median {ms[ms.Count / 2]:0.#} ms, max {ms[^1]:0.#} ms (n {ms.Count})";
    }
}
