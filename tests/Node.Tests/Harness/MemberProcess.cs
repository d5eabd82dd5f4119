using System.Diagnostics;
using FlowMesh.Cluster.Redis;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace FlowMesh.Node.Tests.Harness;

/// <summary>A real cluster member (a Node or an Aggregator, `run`) in its own process, as a user starts one.</summary>
internal sealed partial class MemberProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly List<string> _log = [];
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

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

    /// <summary>Starts an Aggregator's `run` with these flags and returns once it is a member.</summary>
    public static Task<MemberProcess> StartAggregatorAsync(LocalRedisServer redis, string cluster, IEnumerable<string> flags) =>
        StartAsync(NodeCommand.AggregatorStartInfo(["run", "--redis", redis.Endpoint, "--cluster", cluster, "--member-ttl", "4", .. flags]), "aggregator", null);

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
    }

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

    public async ValueTask DisposeAsync()
    {
        await ProcessControl.KillAsync(_process);
        _process.Dispose();
    }
}
