using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// The .NET test workload (workloads/GcServer), started and ready: it printed its
/// listening line. Optionally under a wrapper (unshare ... sh -c 'exec dotnet ...') that puts
/// it in namespaces of its own; then <see cref="Pid"/> is still its pid as this host sees it.
/// </summary>
internal sealed class GcServerProcess : IAsyncDisposable
{
    public static readonly string Assembly =
        typeof(GcServerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "GcServerAssembly").Value!;

    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly Lock _gate = new();
    private readonly List<string> _output = [];

    private GcServerProcess(Process process) => _process = process;

    /// <summary>The server's pid in this host's pid namespace.</summary>
    public int Pid { get; private set; }

    /// <summary>The pid it printed: its own, in its pid namespace.</summary>
    public int OwnPid { get; private set; }

    public int Port { get; private set; }

    public Process Process => _process;

    /// <summary>
    /// Starts the server. <paramref name="wrap"/> turns the server's own command line (one
    /// shell word list) into the command to run; without it the server is run directly.
    /// </summary>
    public static async Task<GcServerProcess> StartAsync(IDictionary<string, string>? environment = null, Func<string, string[]>? wrap = null)
    {
        if (!File.Exists(Assembly))
            throw new XunitException($"the GC server was not built at {Assembly}: run `dotnet build FlowMesh.sln` first");
        var serverCommand = $"dotnet {Assembly} --listen 127.0.0.1:0";
        var command = wrap is null ? ["dotnet", Assembly, "--listen", "127.0.0.1:0"] : wrap(serverCommand);
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1))
            info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;

        var server = new GcServerProcess(new Process { StartInfo = info });
        server._process.OutputDataReceived += (_, e) => server.Keep(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        server._process.Start();
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        try
        {
            await server.WaitUntilListeningAsync(wrapped: wrap is not null);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private async Task WaitUntilListeningAsync(bool wrapped)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            string? line;
            lock (_gate)
                line = _output.FirstOrDefault(l => l.StartsWith("{\"event\":\"listening\"", StringComparison.Ordinal));
            if (line is not null)
            {
                using var json = JsonDocument.Parse(line);
                OwnPid = json.RootElement.GetProperty("pid").GetInt32();
                Port = json.RootElement.GetProperty("port").GetInt32();
                // A wrapper execs into the server in a child (unshare --fork): the server is its only child.
                Pid = wrapped ? OnlyChild(_process.Id) : _process.Id;
                return;
            }
            if (_process.HasExited)
                throw new XunitException($"the GC server exited ({_process.ExitCode}) before listening: {Output()}");
            if (deadline.Elapsed > StartDeadline)
                throw new XunitException($"the GC server did not listen within {StartDeadline.TotalSeconds} s: {Output()}");
            await Task.Delay(20);
        }
    }

    private static int OnlyChild(int pid)
    {
        var children = File.ReadAllText($"/proc/{pid}/task/{pid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (children.Length != 1)
            throw new XunitException($"expected one child of the wrapper {pid}, found [{string.Join(", ", children)}]");
        return int.Parse(children[0], CultureInfo.InvariantCulture);
    }

    /// <summary>One request; the server's own clock readings and collection counts from its headers.</summary>
    public async Task<ServerReply> GetAsync(string path)
    {
        using var response = await _http.GetAsync(new Uri($"http://127.0.0.1:{Port}{path}"));
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadAsStringAsync();
        return new ServerReply(Header(response, "X-Before-Mono-Ns"), Header(response, "X-After-Mono-Ns"),
            (int)Header(response, "X-Collections-Before"), (int)Header(response, "X-Collections-After"), body);
    }

    private static long Header(HttpResponseMessage response, string name) =>
        long.Parse(response.Headers.GetValues(name).Single(), CultureInfo.InvariantCulture);

    /// <summary>How many of its threads have this name (comm, 15 characters at most).</summary>
    public int ThreadsNamed(string name)
    {
        var count = 0;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{Pid}/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') == name)
                    count++;
            }
            catch (IOException)
            {
                // a thread that ended while listed
            }
        }
        return count;
    }

    public string Output()
    {
        lock (_gate)
            return string.Join(" | ", _output.TakeLast(20));
    }

    private void Keep(string? line)
    {
        if (line is null)
            return;
        lock (_gate)
            _output.Add(line);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
