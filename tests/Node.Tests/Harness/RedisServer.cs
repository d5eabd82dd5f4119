using System.Diagnostics;
using System.Net.Sockets;
using Xunit.Sdk;

namespace FlowMesh.Node.Tests.Harness;

/// <summary>
/// A real redis-server for one test, on a free loopback port, with no persistence (a
/// restart comes back empty, the hardest case for the cluster). Stopped and removed
/// when disposed.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("flowmesh-redis-").FullName;
    private Process? _process;

    private RedisServer(int port) => Port = port;

    public int Port { get; }
    public string Endpoint => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        if (!File.Exists("/usr/bin/redis-server"))
            throw new XunitException("these tests need redis-server (Debian package redis-server; scripts/install-deps.sh installs it)");
        var server = new RedisServer(Sockets.FreePort(System.Net.IPAddress.Loopback));
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts (again) on the same port; returns once it answers.</summary>
    public async Task StartAgainAsync()
    {
        var info = new ProcessStartInfo("/usr/bin/redis-server") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--port", $"{Port}", "--bind", "127.0.0.1", "--dir", _directory, "--save", "", "--appendonly", "no", "--daemonize", "no" })
            info.ArgumentList.Add(a);
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (!await AnswersAsync())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(10) || _process.HasExited)
                throw new XunitException($"redis-server did not start on port {Port}");
            await Task.Delay(20);
        }
    }

    /// <summary>Kills the server (no goodbye to clients, as a crash would).</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    private async Task<bool> AnswersAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(System.Net.IPAddress.Loopback, Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var n = await stream.ReadAsync(buffer);
            return n > 0 && buffer[0] == (byte)'+';
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
