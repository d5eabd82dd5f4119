using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using FlowMesh.Hosting;

namespace FlowMesh.Aggregator.Cli;

/// <summary>
/// <c>observe</c>: the fleet's sessions (or flows) in a terminal, as <c>hubble observe</c>
/// shows flows. It reads a gateway: the recent ones from <c>/api/sessions</c> (or
/// <c>/api/flows</c>), oldest first, then with <c>--follow</c> each new one from
/// <c>/api/stream</c> as it settles, until Ctrl-C or SIGTERM. The filters are the API's.
/// </summary>
internal static class ObserveCommand
{
    private static readonly string[] ProblemFields = ["title", "detail"];

    private static readonly (string Option, string Parameter, string Help, bool Sessions, bool Flows)[] Filters =
    [
        ("--edge", "edge", "Only this edge (either form: CLIENT>SERVER:PORT or process>address:port).", true, false),
        ("--host", "host", "Only sessions with a side on this host (flows: of this host).", true, true),
        ("--join", "join", "Only sessions joined so: tag, isn, tuple or one-sided.", true, false),
        ("--reset", "reset", "Only sessions reset by: none, client, server or any.", true, false),
        ("--min-duration-ms", "minDurationMs", "Only sessions that lasted at least this long.", true, false),
        ("--workload", "workload", "Only this workload at either end (namespace/owner, a unit, runtime:short-id).", true, true),
        ("--namespace", "namespace", "Only workloads in this Kubernetes namespace.", true, true),
        ("--unit", "unit", "Only this systemd unit at either end.", true, true),
        ("--pod", "pod", "Only this pod (UID, name or namespace/name).", true, true),
        // The sessions API has no process filter: observe applies it to either side itself.
        ("--process", "process", "Only flows of this process name (sessions: either side's).", true, true),
    ];

    public static Command Create()
    {
        var gateway = new Option<string>("--gateway")
        {
            Description = "The gateway's URL (env FLOWMESH_GATEWAY_URL).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FLOWMESH_GATEWAY_URL") is { Length: > 0 } url ? url : "http://127.0.0.1:8080",
        };
        var token = new Option<string?>("--token") { Description = "The gateway's bearer token (default: env FLOWMESH_GATEWAY__TOKEN, as the Aggregator reads it)." };
        var kind = new Option<string>("--kind") { Description = "session or flow.", DefaultValueFactory = _ => "session" };
        kind.AcceptOnlyFromAmong("session", "flow");
        var since = new Option<string?>("--since") { Description = "Show those of the last DURATION first (30s, 5m, 1h); default 5m, or none with --follow." };
        var last = new Option<int>("--last") { Description = "At most this many from --since (the newest), 1 to 1000.", DefaultValueFactory = _ => 20 };
        var follow = new Option<bool>("--follow", "-f") { Description = "Then print each new one as it happens, until Ctrl-C." };
        var json = new Option<bool>("--json") { Description = "One JSON object per line, as the API gives it, instead of the table." };
        var command = new Command("observe", """
            Print the fleet's sessions (or flows) as a table, or JSON lines with --json, read from a
            gateway: the recent ones, then with --follow each new one as it settles.
            """)
        {
            gateway, token, kind, since, last, follow, json,
        };
        var filterOptions = Filters.Select(f => (Filter: f, Option: new Option<string?>(f.Option) { Description = f.Help })).ToList();
        foreach (var (_, option) in filterOptions)
            command.Options.Add(option);
        command.SetAction(async (parse, cancellation) =>
        {
            // Ctrl-C and SIGTERM end it cleanly, whatever it was printing.
            using var shutdown = new ShutdownSignal(cancellation);
            var ct = shutdown.Token;
            var sessions = parse.GetValue(kind) == "session";
            var query = new List<KeyValuePair<string, string?>>();
            foreach (var (filter, option) in filterOptions)
            {
                if (parse.GetValue(option) is not { } value)
                    continue;
                if (!(sessions ? filter.Sessions : filter.Flows))
                {
                    await Console.Error.WriteLineAsync($"flowmesh: error: {filter.Option} does not apply to --kind {parse.GetValue(kind)}").ConfigureAwait(false);
                    return 2;
                }
                if (filter.Parameter != "process" || !sessions)
                    query.Add(new(filter.Parameter, value));
            }
            var process = sessions ? parse.GetValue(filterOptions.Single(f => f.Filter.Parameter == "process").Option) : null;
            TimeSpan? window = parse.GetValue(since) is { } text ? ParseDuration(text.Trim()) : parse.GetValue(follow) ? null : TimeSpan.FromMinutes(5);
            if (window is { Ticks: <= 0 })
            {
                await Console.Error.WriteLineAsync($"flowmesh: error: --since '{parse.GetValue(since)}' is not a duration such as 30s, 5m or 1h").ConfigureAwait(false);
                return 2;
            }
            var output = new ObserveOutput(sessions, parse.GetValue(json), process, Console.Out);
            using var http = new HttpClient { BaseAddress = new Uri(parse.GetValue(gateway)!.TrimEnd('/') + "/"), Timeout = Timeout.InfiniteTimeSpan };
            if ((parse.GetValue(token) ?? Environment.GetEnvironmentVariable("FLOWMESH_GATEWAY__TOKEN")) is { Length: > 0 } bearer)
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            try
            {
                if (window is { } w)
                {
                    var from = DateTimeOffset.UtcNow.Add(-w).ToUnixTimeMilliseconds();
                    var recent = await GetAsync(http, Url(sessions ? "api/sessions" : "api/flows",
                        [.. query, new("since", $"{from}"), new("limit", $"{Math.Clamp(parse.GetValue(last), 1, 1000)}")]), ct).ConfigureAwait(false);
                    foreach (var item in recent.GetProperty("items").EnumerateArray().Reverse())
                        output.Write(item);
                }
                if (parse.GetValue(follow))
                    await FollowAsync(http, Url("api/stream", [.. query, new("kind", sessions ? "session" : "flow")]), output, ct).ConfigureAwait(false);
                return 0;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return 0; // Ctrl-C or SIGTERM: what was printed stands
            }
            catch (GatewayRefusal e)
            {
                await Console.Error.WriteLineAsync($"flowmesh: error: {e.Message}").ConfigureAwait(false);
                return 2;
            }
            catch (HttpRequestException e)
            {
                await Console.Error.WriteLineAsync($"flowmesh: error: the gateway at {http.BaseAddress} did not answer ({e.Message}); is an Aggregator running, and is --gateway right?").ConfigureAwait(false);
                return 1;
            }
        });
        return command;
    }

    private static string Url(string path, IEnumerable<KeyValuePair<string, string?>> query) =>
        Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString(path, query);

    /// <summary>30s, 5m, 1h, 2d, or a number of seconds; zero for anything else.</summary>
    internal static TimeSpan ParseDuration(string text)
    {
        if (text.Length == 0)
            return TimeSpan.Zero;
        var unit = char.IsAsciiLetter(text[^1]) ? text[^1] : 's';
        var number = char.IsAsciiLetter(text[^1]) ? text[..^1] : text;
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value <= 0)
            return TimeSpan.Zero;
        return unit switch
        {
            's' => TimeSpan.FromSeconds(value),
            'm' => TimeSpan.FromMinutes(value),
            'h' => TimeSpan.FromHours(value),
            'd' => TimeSpan.FromDays(value),
            _ => TimeSpan.Zero,
        };
    }

    private static async Task<JsonElement> GetAsync(HttpClient http, string url, CancellationToken ct)
    {
        using var response = await http.GetAsync(url, ct).ConfigureAwait(false);
        await ThrowIfRefusedAsync(response, ct).ConfigureAwait(false);
        using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false), cancellationToken: ct).ConfigureAwait(false);
        return body.RootElement.Clone();
    }

    /// <summary>Server-sent events: each <c>data:</c> line of an event is one item.</summary>
    private static async Task FollowAsync(HttpClient http, string url, ObserveOutput output, CancellationToken ct)
    {
        using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        await ThrowIfRefusedAsync(response, ct).ConfigureAwait(false);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false));
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal))
                continue; // event names, comments (keep-alives), retry hints
            using var item = JsonDocument.Parse(line.AsMemory(5));
            output.Write(item.RootElement);
        }
        throw new HttpRequestException("the gateway ended the stream");
    }

    private static async Task ThrowIfRefusedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode)
            return;
        var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        string? detail = null;
        try
        {
            // A problem+json body: its title (which parameter) and detail (what is wrong with it).
            using var problem = JsonDocument.Parse(body);
            var parts = ProblemFields.Select(f => problem.RootElement.TryGetProperty(f, out var p) ? p.GetString() : null).OfType<string>();
            detail = string.Join(": ", parts) is { Length: > 0 } text ? text : null;
        }
        catch (JsonException)
        {
        }
        throw new GatewayRefusal(response.StatusCode == HttpStatusCode.Unauthorized
            ? "the gateway wants its token: --token, or FLOWMESH_GATEWAY__TOKEN"
            : $"the gateway refused ({(int)response.StatusCode}): {detail ?? body}");
    }

    private sealed class GatewayRefusal(string message) : Exception(message);
}
