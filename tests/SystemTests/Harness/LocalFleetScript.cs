using System.Diagnostics;
using System.Net.Sockets;
using System.Reflection;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// <c>run-local.sh</c> started as a user starts it (from the repository, as root), with
/// its output collected line by line, and a check of what it left on the machine.
/// </summary>
internal sealed class LocalFleetScript : IAsyncDisposable
{
    /// <summary>Names and paths the script gives everything it makes (see run-local.sh).</summary>
    public const string NamespacePrefix = "fm-local-";
    public const string RunDirectoryPrefix = "flowmesh-local.";
    public const string HostAddressPrefix = "10.99.0.";
    public const string LockFile = "/run/flowmesh-local.lock";
    public const string RunDirectoryParent = "/tmp";

    /// <summary>The variable every process of a run carries in its environment.</summary>
    public const string Mark = "FM_LOCAL_FLEET=";

    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _streamsOpen = 2;

    private LocalFleetScript(Process process) => _process = process;

    public static string RepoRoot { get; } =
        typeof(LocalFleetScript).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepoRoot").Value!;

    /// <summary>Every line printed so far, stdout and stderr interleaved as they came.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
                return [.. _lines];
        }
    }

    public string Output => string.Join('\n', Lines);

    public int ExitCode => _process.ExitCode;

    public static LocalFleetScript Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        // In a process group of its own (setsid), like a job started from a shell, so that
        // Interrupt() can send Ctrl-C to the whole group as a terminal does.
        var info = new ProcessStartInfo("setsid")
        {
            WorkingDirectory = RepoRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // no terminal, as in CI
        };
        info.ArgumentList.Add("bash");
        info.ArgumentList.Add(Path.Combine(RepoRoot, "run-local.sh"));
        foreach (var a in arguments)
            info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            info.Environment[k] = v;
        var script = new LocalFleetScript(new Process { StartInfo = info });
        script._process.OutputDataReceived += (_, e) => script.OnLine(e.Data);
        script._process.ErrorDataReceived += (_, e) => script.OnLine(e.Data);
        script._process.Start();
        script._process.StandardInput.Close();
        script._process.BeginOutputReadLine();
        script._process.BeginErrorReadLine();
        return script;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            if (Interlocked.Decrement(ref _streamsOpen) == 0)
                _ = _process.WaitForExitAsync().ContinueWith(_ => _exited.TrySetResult(), TaskScheduler.Default);
            return;
        }
        lock (_gate)
            _lines.Add(line);
    }

    /// <summary>The first line matching <paramref name="pattern"/>, waiting for it; fails with the output if the script ends or the deadline passes first.</summary>
    public async Task<Match> WaitForLineAsync(Regex pattern, TimeSpan deadline)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            foreach (var line in Lines)
            {
                if (pattern.Match(line) is { Success: true } match)
                    return match;
            }
            if (_exited.Task.IsCompleted)
                throw new XunitException($"run-local.sh ended (exit {_process.ExitCode}) without printing /{pattern}/:\n{Output}");
            if (clock.Elapsed > deadline)
                throw new XunitException($"run-local.sh did not print /{pattern}/ within {deadline.TotalSeconds:0} s:\n{Output}");
            await Task.Delay(100);
        }
    }

    /// <summary>Waits for the script to end (all of its output read); fails with the output after the deadline.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan deadline)
    {
        if (await Task.WhenAny(_exited.Task, Task.Delay(deadline)) != _exited.Task)
            throw new XunitException($"run-local.sh did not stop within {deadline.TotalSeconds:0} s:\n{Output}");
        return _process.ExitCode;
    }

    /// <summary>Ctrl-C at a terminal: SIGINT to the script's whole process group.</summary>
    public void Interrupt() => ProcessControl.SignalGroup(_process, ProcessControl.SigInt);

    /// <summary>kill -9 of the script alone: no chance to clean up.</summary>
    public Task KillScriptAsync() => ProcessControl.KillAsync(_process);

    /// <summary>
    /// What a run left on this machine: namespaces, its directory, the lock file,
    /// processes (by the mark in their environment, or their command lines), and
    /// listeners on the given ports.
    /// </summary>
    public static List<string> Leftovers(params int[] ports)
    {
        var left = new List<string>();
        if (Directory.Exists("/run/netns"))
        {
            left.AddRange(Directory.GetFiles("/run/netns").Select(Path.GetFileName)
                .Where(n => n!.StartsWith(NamespacePrefix, StringComparison.Ordinal)).Select(n => $"network namespace {n}"));
        }
        left.AddRange(Directory.GetDirectories(RunDirectoryParent, RunDirectoryPrefix + "*").Select(d => $"directory {d}"));
        if (File.Exists(LockFile))
            left.Add($"lock file {LockFile}");
        if (FlowMesh.Node.Kernel.CaptureRequirements.FindCgroup2Mount() is { } cgroup2 && Directory.Exists(Path.Combine(cgroup2, "fm-local.slice")))
            left.Add($"cgroup {Path.Combine(cgroup2, "fm-local.slice")}");
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
                continue;
            string commandLine, environment;
            try
            {
                commandLine = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                environment = "\0" + File.ReadAllText(Path.Combine(dir, "environ"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // gone meanwhile
            }
            if (environment.Contains("\0" + Mark, StringComparison.Ordinal) || commandLine.Contains(RunDirectoryPrefix, StringComparison.Ordinal)
                || commandLine.Contains(NamespacePrefix, StringComparison.Ordinal) || commandLine.Contains(HostAddressPrefix, StringComparison.Ordinal))
            {
                left.Add($"process {pid}: {commandLine.Trim()}");
            }
        }
        foreach (var port in ports)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                probe.Connect(System.Net.IPAddress.Loopback, port);
                left.Add($"a listener on 127.0.0.1:{port}");
            }
            catch (SocketException)
            {
                // refused: nothing there
            }
        }
        return left;
    }

    /// <summary>Stops a script a failed test left running (Ctrl-C, then kill -9), so the next test starts clean.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Interrupt();
            if (await Task.WhenAny(_exited.Task, Task.Delay(TimeSpan.FromSeconds(60))) != _exited.Task)
                await ProcessControl.KillAsync(_process);
        }
        _process.Dispose();
    }
}
