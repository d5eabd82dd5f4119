using System.Diagnostics;
using System.Text.RegularExpressions;
using FlowMesh.TestSupport;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>A real cluster member (a Node or an Aggregator, `run`) in its own process, as a user starts one.</summary>
internal sealed partial class MemberProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly List<string> _log = [];
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _gateway = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private MemberProcess(Process process, string hostId)
    {
        _process = process;
        HostId = hostId;
    }

    public string HostId { get; }

    /// <summary>Its member id (the actor system id), known once it joined.</summary>
    public string MemberId { get; private set; } = "";

    /// <summary>host:port of its actor remote.</summary>
    public string Address { get; private set; } = "";

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<string> Log
    {
        get
        {
            lock (_gate)
                return [.. _log];
        }
    }

    /// <summary>Starts a Node's `run` with these flags and returns once it is a member.</summary>
    public static Task<MemberProcess> StartAsync(string hostId, LocalRedisServer redis, string cluster, IEnumerable<string> flags, IReadOnlyDictionary<string, string>? environment = null)
    {
        KernelTestRequirements.Require();
        return StartAsync(NodeCommand.StartInfo(["run", "--host-id", hostId, "--redis", redis.Endpoint, "--cluster", cluster, "--member-ttl", "4", .. flags]), hostId, environment);
    }

    /// <summary>Starts a Node's `run` inside a memory cgroup from its first instruction (so the runtime sees the limit), and returns once it is a member.</summary>
    public static Task<MemberProcess> StartInCgroupAsync(string hostId, LocalRedisServer redis, string cluster, IEnumerable<string> flags,
        IReadOnlyDictionary<string, string>? environment, MemoryCgroup cgroup)
    {
        KernelTestRequirements.Require();
        var node = NodeCommand.StartInfo(["run", "--host-id", hostId, "--redis", redis.Endpoint, "--cluster", cluster, "--member-ttl", "4", .. flags]);
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // The shell joins the cgroup, then becomes the Node.
        foreach (var a in (string[])["-c", "echo $$ > \"$0\" && exec \"$@\"", cgroup.ProcsFile, node.FileName, .. node.ArgumentList])
            info.ArgumentList.Add(a);
        foreach (var (key, value) in TestTls.Environment)
            info.Environment[key] = value;
        return StartAsync(info, hostId, environment);
    }

    /// <summary>
    /// Starts an Aggregator's `run` with these flags and returns once it is a member and
    /// its gateway listens (on a free loopback port unless the flags say where).
    /// </summary>
    public static async Task<MemberProcess> StartAggregatorAsync(LocalRedisServer redis, string cluster, IEnumerable<string> flags,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var list = flags.ToList();
        var gateway = !list.Contains("--no-gateway");
        if (gateway && !list.Contains("--listen"))
            list.AddRange(["--listen", "127.0.0.1:0"]);
        var member = await StartAsync(NodeCommand.AggregatorStartInfo(["run", "--redis", redis.Endpoint, "--cluster", cluster, "--member-ttl", "4", .. list]), "aggregator", environment);
        if (gateway && await Task.WhenAny(member._gateway.Task, Task.Delay(TimeSpan.FromSeconds(15))) != member._gateway.Task)
        {
            await member.DisposeAsync();
            throw new XunitException($"the Aggregator's gateway did not start: {string.Join("\n", member.Log)}");
        }
        return member;
    }

    /// <summary>The Aggregator's gateway, e.g. http://127.0.0.1:41234, once it listens.</summary>
    public Uri GatewayUrl => new(_gateway.Task.IsCompletedSuccessfully ? _gateway.Task.Result : throw new InvalidOperationException("no gateway"));

    private static async Task<MemberProcess> StartAsync(ProcessStartInfo info, string hostId, IReadOnlyDictionary<string, string>? environment)
    {
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            info.Environment[k] = v;
        var node = new MemberProcess(new Process { StartInfo = info }, hostId);
        node._process.OutputDataReceived += (_, e) => node.OnLine(e.Data);
        node._process.ErrorDataReceived += (_, e) => node.OnLine(e.Data);
        node._process.Start();
        node._process.BeginOutputReadLine();
        node._process.BeginErrorReadLine();
        var done = await Task.WhenAny(node._ready.Task, node._process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(30)));
        if (done != node._ready.Task)
        {
            await node.DisposeAsync();
            throw new XunitException($"{hostId} did not join: {string.Join("\n", node.Log)}");
        }
        return node;
    }

    private void OnLine(string? line)
    {
        if (line is null)
            return;
        lock (_gate)
            _log.Add(line);
        var joined = JoinedLine().Match(line);
        if (joined.Success)
        {
            MemberId = joined.Groups["member"].Value;
            Address = joined.Groups["address"].Value;
            _ready.TrySetResult(MemberId);
        }
        var gateway = GatewayLine().Match(line);
        if (gateway.Success)
            _gateway.TrySetResult(gateway.Groups["url"].Value);
    }

    [GeneratedRegex(@"Gateway listening on (?<url>http://[^\s]+)")]
    private static partial Regex GatewayLine();

    [GeneratedRegex(@"is member (?<member>\w+) at (?<address>[\d.]+:\d+)")]
    private static partial Regex JoinedLine();

    /// <summary>SIGTERM, as systemd or Kubernetes stops it; waits for it to exit.</summary>
    public async Task<int> TerminateAsync()
    {
        ProcessControl.Signal(_process, ProcessControl.SigTerm);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    /// <summary>kill -9: no chance to say goodbye.</summary>
    public Task CrashAsync() => ProcessControl.KillAsync(_process);

    /// <summary>Sends a signal (SIGSTOP and SIGCONT freeze and resume it).</summary>
    public void Signal(int signal) => ProcessControl.Signal(_process, signal);

    /// <summary>Its exit status once it has exited by itself within <paramref name="deadline"/>; null if it is still running.</summary>
    public async Task<int?> ExitedWithinAsync(TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ProcessControl.KillAsync(_process);
        _process.Dispose();
    }
}
