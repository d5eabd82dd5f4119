using System.Diagnostics;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// A program nobody in this project wrote (tcpdump, redis-server, curl, python3), run
/// inside a test's namespace as a user runs it there: <c>ip netns exec NS program ...</c>.
/// <c>ip netns exec</c> execs the program itself, so a signal to this process reaches
/// the program. Its output is kept, line by line, for waits and failure messages;
/// disposing kills it if it still runs.
/// </summary>
internal sealed class NamespaceProgram : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];

    private NamespaceProgram(Process process, string what)
    {
        _process = process;
        What = what;
    }

    /// <summary>What it is, for messages: "tcpdump on host-b".</summary>
    public string What { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public IReadOnlyList<string> Stdout
    {
        get
        {
            lock (_gate)
                return [.. _stdout];
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

    public static NamespaceProgram Start(TestNamespace host, string what, params string[] command) =>
        Start("ip", ["netns", "exec", host.Name, .. command], what);

    /// <summary>
    /// As <see cref="Start(TestNamespace, string, string[])"/>, in the cgroup whose cgroup.procs
    /// is <paramref name="cgroupProcs"/>: the shell moves itself there before it enters the
    /// namespace (where `ip netns exec` mounts a sysfs without the cgroup hierarchy).
    /// </summary>
    public static NamespaceProgram StartInCgroup(TestNamespace host, string cgroupProcs, string what, params string[] command) =>
        Start("sh", ["-c", $"echo $$ > {cgroupProcs} && exec ip netns exec {host.Name} \"$@\"", "sh", .. command], what);

    private static NamespaceProgram Start(string file, IEnumerable<string> arguments, string what)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in arguments)
            info.ArgumentList.Add(a);
        var program = new NamespaceProgram(new Process { StartInfo = info }, what);
        program._process.OutputDataReceived += (_, e) => program.Keep(program._stdout, e.Data);
        program._process.ErrorDataReceived += (_, e) => program.Keep(program._stderr, e.Data);
        program._process.Start();
        // Nothing is ever typed into it: a program that reads stdin sees its end at once.
        program._process.StandardInput.Close();
        program._process.BeginOutputReadLine();
        program._process.BeginErrorReadLine();
        return program;
    }

    /// <summary>Runs a command inside the namespace to its end, within <paramref name="deadline"/>; fails the test unless it exits 0. Returns its stdout.</summary>
    public static async Task<IReadOnlyList<string>> RunAsync(TestNamespace host, string what, TimeSpan deadline, params string[] command)
    {
        var program = Start(host, what, command);
        try
        {
            var exit = await program.WaitForExitAsync(deadline);
            if (exit != 0)
                throw new XunitException($"{what} exited {exit}: {program.Output()}");
            return program.Stdout;
        }
        finally
        {
            await program.DisposeAsync();
        }
    }

    private void Keep(List<string> lines, string? line)
    {
        if (line is null)
            return;
        lock (_gate)
            lines.Add(line);
    }

    /// <summary>Waits, within the deadline, for a line on stdout or stderr that <paramref name="match"/> accepts; fails the test (with the output) if the program exits or the deadline passes first.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, string what, TimeSpan deadline)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            string? found;
            lock (_gate)
                found = _stdout.Concat(_stderr).FirstOrDefault(match);
            if (found is not null)
                return found;
            if (_process.HasExited)
            {
                // Its last lines may still be on their way from the pipe.
                await _process.WaitForExitAsync();
                lock (_gate)
                    found = _stdout.Concat(_stderr).FirstOrDefault(match);
                return found ?? throw new XunitException($"{What} exited ({_process.ExitCode}) before {what}: {Output()}");
            }
            if (clock.Elapsed > deadline)
                throw new XunitException($"{What}: no {what} within {deadline.TotalSeconds} s: {Output()}");
            await Task.Delay(20);
        }
    }

    /// <summary>Waits for the end, within the deadline (then kills it and fails the test); all its output has been read when this returns.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            await ProcessControl.KillAsync(_process);
            throw new XunitException($"{What} did not finish within {deadline.TotalSeconds} s: {Output()}");
        }
        return _process.ExitCode;
    }

    public void Signal(int signal) => ProcessControl.Signal(_process, signal);

    /// <summary>The end of what it printed, for a failure message.</summary>
    public string Output(int lines = 20)
    {
        lock (_gate)
            return $"stdout: [{string.Join(" | ", _stdout.TakeLast(lines))}] stderr: [{string.Join(" | ", _stderr.TakeLast(lines))}]";
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
