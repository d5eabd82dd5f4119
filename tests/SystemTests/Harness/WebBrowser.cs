using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// Debian's chromium, headless, driven over the DevTools protocol: load a page, wait
/// until a script condition holds (the page's fetches done), read the DOM, take a
/// screenshot. A few CDP calls over a WebSocket instead of a browser-automation
/// package: the page keeps a server-sent event stream open, which --dump-dom with a
/// virtual time budget waits on forever.
/// </summary>
internal sealed partial class WebBrowser : IAsyncDisposable
{
    private static readonly string[] Candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private int _nextId;

    private WebBrowser(Process process, string profile) => (_process, _profile) = (process, profile);

    /// <summary>The browser's path, or a failure that says how to get one (scripts/install-deps.sh installs it).</summary>
    public static string Require() =>
        Candidates.FirstOrDefault(File.Exists) ?? throw new XunitException("headless Chromium is missing: run scripts/install-deps.sh (installs Debian's chromium package)");

    public static async Task<WebBrowser> StartAsync(int width = 1400, int height = 1000)
    {
        var profile = Directory.CreateTempSubdirectory("flowmesh-chromium-").FullName;
        // Headless as root in a container: no sandbox, no GPU, nothing fetched but the page.
        var info = new ProcessStartInfo(Require()) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var flag in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-extensions", "--no-first-run", "--hide-scrollbars", "--remote-debugging-port=0", $"--user-data-dir={profile}",
            $"--window-size={width},{height}", "about:blank",
        })
        {
            info.ArgumentList.Add(flag);
        }
        var process = Process.Start(info)!;
        var browser = new WebBrowser(process, profile);
        try
        {
            var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            var stderr = new StringBuilder();
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null)
                    return;
                lock (stderr)
                    stderr.AppendLine(e.Data);
                if (DevToolsLine().Match(e.Data) is { Success: true } m)
                    listening.TrySetResult(m.Groups["port"].Value);
            };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            if (await Task.WhenAny(listening.Task, Task.Delay(TimeSpan.FromSeconds(30))) != listening.Task)
                throw new XunitException($"chromium did not open its DevTools port: {stderr}");
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{listening.Task.Result}") };
            var targets = await http.GetFromJsonAsync<JsonArray>("/json/list");
            var page = targets!.First(t => t!["type"]!.GetValue<string>() == "page")!;
            await browser._socket.ConnectAsync(new Uri(page["webSocketDebuggerUrl"]!.GetValue<string>()), CancellationToken.None);
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    [GeneratedRegex(@"DevTools listening on ws://127\.0\.0\.1:(?<port>\d+)/")]
    private static partial Regex DevToolsLine();

    public Task NavigateAsync(string url) => CallAsync("Page.navigate", new JsonObject { ["url"] = url });

    /// <summary>The value of a script expression in the page.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression)
    {
        var result = await CallAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true });
        if (result["exceptionDetails"] is { } error)
            throw new XunitException($"script failed: {error}");
        return result["result"]?["value"];
    }

    /// <summary>Waits (with a deadline) until a script expression is true.</summary>
    public async Task WaitUntilAsync(string expression, TimeSpan deadline)
    {
        var stopwatch = Stopwatch.StartNew();
        // False while the page is still loading (no body yet, elements not drawn).
        var guarded = $"(() => {{ try {{ return !!({expression}); }} catch {{ return false; }} }})()";
        while (await EvaluateAsync(guarded) is not JsonValue v || !v.GetValue<bool>())
        {
            if (stopwatch.Elapsed > deadline)
                throw new XunitException($"the page never met '{expression}' within {deadline.TotalSeconds} s; it shows: {await EvaluateAsync("document.body.innerText")}");
            await Task.Delay(100);
        }
    }

    public async Task<byte[]> ScreenshotAsync()
    {
        var result = await CallAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png" });
        return Convert.FromBase64String(result["data"]!.GetValue<string>());
    }

    private async Task<JsonNode> CallAsync(string method, JsonObject parameters)
    {
        var id = ++_nextId;
        var request = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(request.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[1 << 16];
        while (true)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult received;
            do
            {
                received = await _socket.ReceiveAsync(buffer, timeout.Token);
                message.Write(buffer, 0, received.Count);
            }
            while (!received.EndOfMessage);
            var reply = JsonNode.Parse(message.ToArray())!;
            if (reply["id"]?.GetValue<int>() != id)
                continue; // an event, or the answer to an earlier call
            if (reply["error"] is { } error)
                throw new XunitException($"{method}: {error}");
            return reply["result"]!;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // chromium's last writes can race the delete; the profile is in /tmp.
        }
    }
}
