using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowMesh.TestSupport;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// A real Prometheus (Debian's <c>prometheus</c>) on a free loopback port, with its own data
/// directory, running a scrape configuration the test gives; its HTTP query API is how the
/// test reads what it scraped. Stopped with SIGTERM and its directory removed when disposed.
/// </summary>
internal sealed class PrometheusServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/prometheus";

    private readonly string _directory = Directory.CreateTempSubdirectory("flowmesh-prometheus-").FullName;
    private readonly Process _process;
    private readonly List<string> _log = [];

    private PrometheusServer(string configuration)
    {
        Port = LoopbackPort.Free();
        var config = Path.Combine(_directory, "prometheus.yml");
        File.WriteAllText(config, configuration);
        var info = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(_directory, "data")}", $"--web.listen-address=127.0.0.1:{Port}" })
            info.ArgumentList.Add(a);
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => Log(e.Data);
        _process.ErrorDataReceived += (_, e) => Log(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}"), Timeout = TimeSpan.FromSeconds(10) };
    }

    public int Port { get; }
    public HttpClient Http { get; }

    /// <summary>Starts one with <paramref name="configuration"/> (YAML); returns once it is ready. Fails saying what is missing without the binary.</summary>
    public static async Task<PrometheusServer> StartAsync(string configuration)
    {
        if (!File.Exists(Binary))
            throw new SetupFailedException($"{Binary} not found: install Debian's prometheus (scripts/install-deps.sh does)");
        var server = new PrometheusServer(configuration);
        var waited = Stopwatch.StartNew();
        while (!await server.ReadyAsync())
        {
            if (server._process.HasExited || waited.Elapsed > TimeSpan.FromSeconds(30))
                throw new SetupFailedException($"prometheus did not become ready on port {server.Port}:\n{server.Output}");
            await Task.Delay(100);
        }
        return server;
    }

    /// <summary>What Prometheus logged, for a failure's message.</summary>
    public string Output
    {
        get
        {
            lock (_log)
                return string.Join('\n', _log.TakeLast(40));
        }
    }

    /// <summary>An instant query: the result's series (labels and value); a query Prometheus refuses fails with its error.</summary>
    public async Task<IReadOnlyList<(Dictionary<string, string> Labels, double Value)>> QueryAsync(string promql)
    {
        using var response = await Http.GetAsync("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        var body = await response.Content.ReadAsStringAsync();
        var json = JsonDocument.Parse(body).RootElement;
        if (json.GetProperty("status").GetString() != "success")
            throw new InvalidOperationException($"Prometheus refused {promql}: {body}");
        var data = json.GetProperty("data");
        if (data.GetProperty("resultType").GetString() != "vector")
            throw new InvalidOperationException($"{promql} is not a vector: {body}");
        return [.. data.GetProperty("result").EnumerateArray().Select(r => (
            r.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!),
            double.Parse(r.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture)))];
    }

    /// <summary>The one value of a query that gives one series, or null while it gives none.</summary>
    public async Task<double?> ValueAsync(string promql) => (await QueryAsync(promql)) switch
    {
        [] => null,
        [var one] => one.Value,
        var many => throw new InvalidOperationException($"{promql} gave {many.Count} series, not one"),
    };

    private async Task<bool> ReadyAsync()
    {
        try
        {
            using var response = await Http.GetAsync("/-/ready");
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private void Log(string? line)
    {
        if (line is null)
            return;
        lock (_log)
            _log.Add(line);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            ProcessControl.Signal(_process, ProcessControl.SigTerm);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
