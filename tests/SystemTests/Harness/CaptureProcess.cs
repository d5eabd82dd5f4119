using System.Diagnostics;
using System.Text.Json;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// Runs the real `capture --json` command as a separate process, the way a user
/// would, and collects what it prints. Waits are on conditions, with deadlines.
/// </summary>
internal sealed class CaptureProcess : IAsyncDisposable
{
    private static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(20);
    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly List<CapturedEvent> _events = [];
    private readonly List<string> _stderr = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CaptureProcess(Process process) => _process = process;

    public IReadOnlyList<CapturedEvent> Events
    {
        get
        {
            lock (_gate)
                return [.. _events];
        }
    }

    public IReadOnlyList<string> Stderr
    {
        get
        {
            lock (_gate)
                return [.. _stderr];
        }
    }

    /// <summary>Starts `capture --json ARGS` and returns once its programs are attached.</summary>
    public static async Task<CaptureProcess> StartAsync(params string[] args)
    {
        KernelTestRequirements.Require();
        var process = new Process { StartInfo = NodeCommand.StartInfo(["capture", "--json", .. args]) };
        var capture = new CaptureProcess(process);
        process.OutputDataReceived += (_, e) => capture.OnStdout(e.Data);
        process.ErrorDataReceived += (_, e) => capture.OnStderr(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var started = await Task.WhenAny(capture._ready.Task, process.WaitForExitAsync(), Task.Delay(DefaultDeadline));
        if (started != capture._ready.Task)
        {
            if (!process.HasExited)
                process.Kill();
            await process.WaitForExitAsync();
            throw new XunitException($"capture did not start: {string.Join(" | ", capture.Stderr)}");
        }
        return capture;
    }

    private void OnStdout(string? line)
    {
        if (line is null)
        {
            _stdoutClosed.TrySetResult();
            return;
        }
        if (line.Length == 0)
            return;
        var e = CapturedEvent.Parse(line);
        lock (_gate)
            _events.Add(e);
    }

    private void OnStderr(string? line)
    {
        if (line is null)
        {
            _stderrClosed.TrySetResult();
            return;
        }
        lock (_gate)
            _stderr.Add(line);
        if (line.StartsWith("flowmesh: capturing", StringComparison.Ordinal))
            _ready.TrySetResult();
    }

    /// <summary>Polls the events printed so far until <paramref name="condition"/> holds, or fails after the deadline.</summary>
    public async Task<IReadOnlyList<CapturedEvent>> WaitForAsync(Func<IReadOnlyList<CapturedEvent>, bool> condition, string what, TimeSpan? deadline = null)
    {
        var elapsed = Stopwatch.StartNew();
        var limit = deadline ?? DefaultDeadline;
        while (true)
        {
            var events = Events;
            if (condition(events))
                return events;
            if (elapsed.Elapsed > limit)
                throw new XunitException($"timed out after {limit.TotalSeconds} s waiting for {what}; saw:\n  {string.Join("\n  ", events.Select(e => $"{e.Cookie} {e.Step}"))}");
            if (_process.HasExited)
                throw new XunitException($"capture exited ({_process.ExitCode}) while waiting for {what}: {string.Join(" | ", Stderr)}");
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Events of one socket's lifecycle (transitions, resets, retransmissions...), in the order
    /// the kernel produced them; not its accept(), a record of the accepting task with none of
    /// the socket's own figures (see <see cref="AcceptsOf"/>).
    /// </summary>
    public IReadOnlyList<CapturedEvent> Of(ulong cookie) =>
        Events.Where(e => e.Cookie == cookie && e.Event != "accepted").OrderBy(e => e.MonotonicNs).ToList();

    /// <summary>The steps (see <see cref="CapturedEvent.Step"/>) of one socket's lifecycle, in kernel order.</summary>
    public IReadOnlyList<string> StepsOf(ulong cookie) => Of(cookie).Select(e => e.Step).ToList();

    /// <summary>The accept() calls that returned this socket.</summary>
    public IReadOnlyList<CapturedEvent> AcceptsOf(ulong cookie) => Events.Where(e => e.Cookie == cookie && e.Event == "accepted").ToList();

    /// <summary>Waits until each socket's lifecycle has ended (its transition to TCP_CLOSE was printed).</summary>
    public Task WaitClosedAsync(params ulong[] cookies) =>
        WaitForAsync(events => cookies.All(c => events.Any(e => e.Cookie == c && e.IsFinalClose)),
            $"TCP_CLOSE of sockets {string.Join(", ", cookies)}");

    /// <summary>Ctrl-C, then the exit code and the summary printed at exit.</summary>
    public async Task<(int ExitCode, JsonElement Summary)> StopAsync()
    {
        ProcessControl.Signal(_process, ProcessControl.SigInt); // as Ctrl-C
        using var timeout = new CancellationTokenSource(DefaultDeadline);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new XunitException($"capture did not exit within {DefaultDeadline.TotalSeconds} s of Ctrl-C; stderr: {string.Join(" | ", Stderr)}");
        }
        await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(DefaultDeadline);
        var summaryLine = Stderr.LastOrDefault(l => l.StartsWith("{\"summary\"", StringComparison.Ordinal))
            ?? throw new XunitException($"no summary at exit; stderr: {string.Join(" | ", Stderr)}");
        return (_process.ExitCode, JsonDocument.Parse(summaryLine).RootElement.GetProperty("summary").Clone());
    }

    public async ValueTask DisposeAsync()
    {
        await ProcessControl.KillAsync(_process);
        _process.Dispose();
    }
}

/// <summary>How the tests launch the Node binary.</summary>
internal static class NodeCommand
{
    public static ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(KernelTestRequirements.NodeAssembly);
        foreach (var a in args)
            info.ArgumentList.Add(a);
        // Members and clients alike run with the suite's mutual TLS (a test may take it away).
        foreach (var (key, value) in TestTls.Environment)
            info.Environment[key] = value;
        return info;
    }

    public static ProcessStartInfo AggregatorStartInfo(IEnumerable<string> args)
    {
        var info = StartInfo(args);
        info.ArgumentList[0] = KernelTestRequirements.AggregatorAssembly;
        return info;
    }

    /// <summary>Runs a command to its end (30 s at most): its exit status and output.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(ProcessStartInfo info)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await p.WaitForExitAsync(timeout.Token);
        return (p.ExitCode, await stdout, await stderr);
    }
}
