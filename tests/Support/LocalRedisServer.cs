using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace FlowMesh.TestSupport;

/// <summary>
/// A private redis-server on a free loopback port, with no persistence (a restart
/// comes back empty) and a random password (as a fleet's Redis has one), for benchmarks
/// and tests that need a real Redis of their own. Stopped and its directory removed when
/// disposed.
/// </summary>
public sealed class LocalRedisServer : IAsyncDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("flowmesh-redis-").FullName;
    private Process? _process;

    private LocalRedisServer(int port) => Port = port;

    public int Port { get; }

    /// <summary>The password it requires (<c>requirepass</c>).</summary>
    public string Password { get; } = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>The StackExchange.Redis configuration string members take as <c>Cluster:Redis</c>, password included.</summary>
    public string Endpoint => $"127.0.0.1:{Port},password={Password}";

    /// <summary>The server's process id (a benchmark reads its CPU time), 0 before it started.</summary>
    public int ProcessId => _process?.Id ?? 0;

    public const string Binary = "/usr/bin/redis-server";

    /// <summary>Starts one; throws <see cref="InvalidOperationException"/> saying what is missing if redis-server is not installed.</summary>
    public static async Task<LocalRedisServer> StartAsync()
    {
        if (!File.Exists(Binary))
            throw new SetupFailedException($"{Binary} not found: install Debian's redis-server (scripts/install-deps.sh does)");
        var server = new LocalRedisServer(LoopbackPort.Free());
        await server.StartAgainAsync().ConfigureAwait(false);
        return server;
    }

    /// <summary>Starts (again) on the same port; returns once it answers.</summary>
    public async Task StartAgainAsync()
    {
        var info = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--port", $"{Port}", "--bind", "127.0.0.1", "--dir", _directory, "--save", "", "--appendonly", "no", "--daemonize", "no", "--requirepass", Password })
            info.ArgumentList.Add(a);
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (!await AnswersAsync().ConfigureAwait(false))
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(10) || _process.HasExited)
                throw new SetupFailedException($"redis-server did not start on port {Port}");
            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    /// <summary>Kills the server (no goodbye to clients, as a crash would).</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    private async Task<bool> AnswersAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port).ConfigureAwait(false);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray()).ConfigureAwait(false);
            var buffer = new byte[16];
            var n = await stream.ReadAsync(buffer).ConfigureAwait(false);
            return n > 0; // +PONG, or -NOAUTH: it answers either way

        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        _process?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
