using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using FlowMesh.SystemTests.Harness;
using Xunit.Sdk;

namespace FlowMesh.SystemTests;

/// <summary>
/// The gateway over HTTP, against a real Aggregator whose data came from real
/// connections through real Nodes (<see cref="GatewayFleet"/>).
/// </summary>
public sealed class GatewayTests(GatewayFleet fleet) : IClassFixture<GatewayFleet>
{
    private static string Q(string value) => Uri.EscapeDataString(value);

    private async Task<List<JsonElement>> AllSessionsAsync(string query)
    {
        var all = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = await fleet.GetJsonAsync($"/api/sessions?{query}" + (cursor is null ? "" : $"&cursor={Q(cursor)}"));
            all.AddRange(page.GetProperty("items").EnumerateArray());
            cursor = page.GetProperty("next").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next").GetString();
        }
        while (cursor is not null);
        return all;
    }

    [Fact]
    public async Task Sessions_are_listed_joined_by_tag_with_the_bytes_sent_and_paged_without_repeats()
    {
        var sessions = await AllSessionsAsync($"edge={Q(fleet.Edge)}&join=tag&reset=none&closed=true&limit=7");
        Assert.Equal(GatewayFleet.Exchanges, sessions.Count);
        Assert.Equal(GatewayFleet.Exchanges, sessions.Select(s => s.GetProperty("id").GetString()).Distinct().Count());
        var clientFlows = sessions.Select(s => s.GetProperty("client").GetProperty("flowId").GetString()).ToHashSet();
        Assert.True(fleet.ExchangeCookies.All(c => clientFlows.Contains($"host-a/{c}")), "every exchange's client flow is in a session");
        foreach (var s in sessions)
        {
            Assert.Equal("tag", s.GetProperty("join").GetString());
            Assert.Equal(5000UL, s.GetProperty("bytesClientToServer").GetUInt64());
            Assert.Equal(3000UL, s.GetProperty("bytesServerToClient").GetUInt64());
            Assert.Equal("none", s.GetProperty("reset").GetString());
            Assert.True(s.GetProperty("complete").GetBoolean());
            Assert.Equal("host-a", s.GetProperty("client").GetProperty("host").GetString());
            Assert.Equal("host-b", s.GetProperty("server").GetProperty("host").GetString());
            Assert.True(s.GetProperty("connectMs").GetDouble() > 0);
            Assert.True(s.GetProperty("durationMs").GetDouble() > 0);
        }
        // Newest first.
        var ends = sessions.Select(s => s.GetProperty("endUnixMs").GetInt64()).ToList();
        Assert.Equal(ends.OrderByDescending(e => e), ends);

        // One session by id is the same session.
        var first = sessions[0];
        var one = await fleet.GetJsonAsync($"/api/sessions/{Q(first.GetProperty("id").GetString()!)}");
        Assert.Equal(first.GetProperty("id").GetString(), one.GetProperty("id").GetString());
        Assert.Equal(first.GetProperty("client").GetProperty("flowId").GetString(), one.GetProperty("client").GetProperty("flowId").GetString());
    }

    [Fact]
    public async Task Session_filters_find_the_reset_one_and_the_refused_one()
    {
        var reset = Assert.Single(await AllSessionsAsync($"edge={Q(fleet.Edge)}&reset=server"));
        Assert.Equal($"host-a/{fleet.ResetCookie}", reset.GetProperty("client").GetProperty("flowId").GetString());
        Assert.Equal(10UL, reset.GetProperty("bytesClientToServer").GetUInt64());

        var refusedEdge = fleet.Edge.Replace($":{GatewayFleet.Port}", $":{GatewayFleet.ClosedPort}", StringComparison.Ordinal);
        var refused = Assert.Single(await AllSessionsAsync($"edge={Q(refusedEdge)}"));
        Assert.Equal("one-sided", refused.GetProperty("join").GetString());
        Assert.Equal("refused", refused.GetProperty("client").GetProperty("closeReason").GetString());
        Assert.Equal(JsonValueKind.Null, refused.GetProperty("connectMs").ValueKind);

        var slow = await AllSessionsAsync($"edge={Q(fleet.Edge)}&minDurationMs=600000");
        Assert.Empty(slow);
    }

    [Fact]
    public async Task Latency_percentiles_of_an_edge_match_the_sessions_connect_times_within_one_percent()
    {
        var sessions = await AllSessionsAsync($"edge={Q(fleet.Edge)}&limit=1000");
        var exact = sessions.Select(s => s.GetProperty("connectMs").GetDouble()).Order().ToArray();
        Assert.Equal(GatewayFleet.Exchanges + 1, exact.Length);

        var latency = await fleet.GetJsonAsync($"/api/latency?edge={Q(fleet.Edge)}&window=15m");
        Assert.Equal(fleet.Edge, latency.GetProperty("edge").GetString());
        Assert.Equal("15m", latency.GetProperty("window").GetString());
        Assert.Equal(exact.Length, latency.GetProperty("count").GetInt64());
        foreach (var (q, field) in new[] { (0.5, "p50Ms"), (0.9, "p90Ms"), (0.99, "p99Ms"), (0.999, "p999Ms") })
        {
            var expected = exact[(int)Math.Floor(q * (exact.Length - 1))];
            var actual = latency.GetProperty(field).GetDouble();
            // Rounded to 0.1 us on the way out; the sketch's own bound is 0.5%.
            Assert.True(Math.Abs(actual - expected) <= expected * 0.01 + 0.0001, $"{field}: {actual} ms vs exact {expected} ms");
        }

        // The whole cluster and host A count these too; host B measured no connect.
        Assert.True((await fleet.GetJsonAsync("/api/latency?window=15m")).GetProperty("count").GetInt64() >= exact.Length);
        Assert.True((await fleet.GetJsonAsync("/api/latency?host=host-a&window=15m")).GetProperty("count").GetInt64() >= exact.Length);
        Assert.Equal(0, (await fleet.GetJsonAsync("/api/latency?host=host-b&window=15m")).GetProperty("count").GetInt64());
        var rtt = await fleet.GetJsonAsync($"/api/latency?edge={Q(fleet.Edge)}&metric=rtt&window=15m");
        Assert.True(rtt.GetProperty("p99Ms").GetDouble() > 0);
        // A window from before any traffic is empty.
        var before = DateTimeOffset.UtcNow.AddHours(-3).ToUnixTimeMilliseconds();
        var empty = await fleet.GetJsonAsync($"/api/latency?edge={Q(fleet.Edge)}&from={before}&to={before + 60_000}");
        Assert.Equal(0, empty.GetProperty("count").GetInt64());
        Assert.Equal(JsonValueKind.Null, empty.GetProperty("p99Ms").ValueKind);
    }

    [Fact]
    public async Task The_heatmap_holds_every_value_and_the_service_map_every_edge()
    {
        var heatmap = await fleet.GetJsonAsync($"/api/heatmap?edge={Q(fleet.Edge)}&window=5m");
        Assert.Equal(GatewayFleet.Exchanges + 1, heatmap.GetProperty("total").GetInt64());
        var counts = heatmap.GetProperty("counts").EnumerateArray().Select(r => r.EnumerateArray().Select(c => c.GetInt64()).ToArray()).ToList();
        Assert.Equal(heatmap.GetProperty("times").GetArrayLength(), counts.Count);
        Assert.Equal(GatewayFleet.Exchanges + 1, counts.Sum(r => r.Sum()));
        Assert.All(counts, r => Assert.Equal(heatmap.GetProperty("binUpperMs").GetArrayLength(), r.Length));
        Assert.InRange(counts.Count, 30, 31); // 5 minutes of 10 s columns (31 when the window does not start on a bucket)

        var edges = (await fleet.GetJsonAsync("/api/edges?window=15m")).EnumerateArray().ToDictionary(e => e.GetProperty("edge").GetString()!);
        // A page at a time: following the Link header one edge at a time walks the same edges, in name order.
        var walked = new List<string>();
        string? next = "/api/edges?window=15m&limit=1";
        while (next is not null)
        {
            using var page = await fleet.Http.GetAsync(next);
            page.EnsureSuccessStatusCode();
            Assert.Equal($"{edges.Count}", Assert.Single(page.Headers.GetValues("X-Total-Count")));
            using var json = System.Text.Json.JsonDocument.Parse(await page.Content.ReadAsStringAsync());
            walked.Add(Assert.Single(json.RootElement.EnumerateArray().ToList()).GetProperty("edge").GetString()!);
            next = page.Headers.TryGetValues("Link", out var links)
                ? System.Text.RegularExpressions.Regex.Match(links.Single(), "^<([^>]+)>; rel=\"next\"$").Groups[1].Value
                : null;
            Assert.True(walked.Count <= edges.Count, $"paging walked {walked.Count} pages for {edges.Count} edges");
        }
        Assert.Equal(edges.Keys.Order(StringComparer.Ordinal), walked);
        var edge = edges[fleet.Edge];
        Assert.Equal($"{fleet.Hosts.AddressB}:{GatewayFleet.Port}", edge.GetProperty("server").GetString());
        Assert.Equal(GatewayFleet.Exchanges + 1, edge.GetProperty("sessions").GetInt64());
        Assert.Equal(1, edge.GetProperty("errors").GetInt64()); // the reset
        // The map's P99 is the sessions' own: the exact 99th percentile of their connect times, within the sketch's error.
        var exact = (await AllSessionsAsync($"edge={Q(fleet.Edge)}&limit=1000")).Select(s => s.GetProperty("connectMs").GetDouble()).Order().ToArray();
        var p99 = exact[(int)Math.Floor(0.99 * (exact.Length - 1))];
        Assert.True(Math.Abs(edge.GetProperty("p99Ms").GetDouble() - p99) <= p99 * 0.01 + 0.0001, $"map P99 {edge.GetProperty("p99Ms")} ms vs exact {p99} ms");
        var tags = edge.GetProperty("tags");
        Assert.Equal(GatewayFleet.Exchanges + 1, tags.GetProperty("sent").GetInt64());
        Assert.Equal(GatewayFleet.Exchanges + 1, tags.GetProperty("survived").GetInt64());
        Assert.Equal(1.0, tags.GetProperty("survivalRatio").GetDouble());
        var refused = edges[fleet.Edge.Replace($":{GatewayFleet.Port}", $":{GatewayFleet.ClosedPort}", StringComparison.Ordinal)];
        Assert.Equal((1L, 1L, 1L), (refused.GetProperty("sessions").GetInt64(), refused.GetProperty("errors").GetInt64(), refused.GetProperty("tags").GetProperty("noHandshake").GetInt64()));
    }

    [Fact]
    public async Task Flows_come_live_from_their_actor_and_closed_from_the_record()
    {
        var open = await fleet.GetJsonAsync($"/api/flows/host-a/{fleet.OpenCookie}");
        Assert.True(open.GetProperty("live").GetBoolean());
        Assert.Equal("TCP_ESTABLISHED", open.GetProperty("state").GetString());
        Assert.Equal("client", open.GetProperty("role").GetString());
        Assert.Equal(fleet.Hosts.AddressB, open.GetProperty("remoteAddress").GetString());

        var closed = await fleet.GetJsonAsync($"/api/flows/host-a/{fleet.ExchangeCookies[0]}");
        Assert.True(closed.GetProperty("closed").GetBoolean());
        Assert.Equal(5000UL, closed.GetProperty("bytesSent").GetUInt64());
        Assert.Equal(3000UL, closed.GetProperty("bytesReceived").GetUInt64());
        Assert.Equal("normal", closed.GetProperty("closeReason").GetString());

        var live = await fleet.GetJsonAsync($"/api/flows?host=host-a&state=open&port={GatewayFleet.Port}");
        var liveIds = live.GetProperty("items").EnumerateArray().Select(f => f.GetProperty("id").GetString()).ToList();
        Assert.Contains($"host-a/{fleet.OpenCookie}", liveIds);
        Assert.DoesNotContain($"host-a/{fleet.ExchangeCookies[0]}", liveIds);

        var refused = await fleet.GetJsonAsync($"/api/flows?host=host-a&port={GatewayFleet.ClosedPort}&state=closed");
        var item = Assert.Single(refused.GetProperty("items").EnumerateArray());
        Assert.Equal($"host-a/{fleet.RefusedCookie}", item.GetProperty("id").GetString());
        Assert.Equal("refused", item.GetProperty("closeReason").GetString());
        // The CLOSE state, spelt any way the filter takes it, finds the same closed flow.
        foreach (var spelling in new[] { "close", "tcp_close", "TCP_CLOSE" })
        {
            var byState = await fleet.GetJsonAsync($"/api/flows?host=host-a&port={GatewayFleet.ClosedPort}&state={spelling}");
            Assert.Equal($"host-a/{fleet.RefusedCookie}", Assert.Single(byState.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        }

        using var missing = await fleet.Http.GetAsync("/api/flows/host-a/1");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Cluster_health_readiness_metrics_and_the_openapi_document()
    {
        var cluster = await fleet.GetJsonAsync("/api/cluster");
        var members = cluster.GetProperty("members").EnumerateArray().ToList();
        Assert.Equal(["aggregator", "node", "node"], members.Select(m => m.GetProperty("role").GetString()).Order());
        Assert.All(members, m => Assert.True(m.GetProperty("healthy").GetBoolean()));
        var hostA = members.Single(m => m.GetProperty("hostId").GetString() == "host-a");
        Assert.True(hostA.GetProperty("counters").GetProperty("flows_closed").GetInt64() >= GatewayFleet.Exchanges);
        Assert.Equal(0, hostA.GetProperty("counters").GetProperty("kernel_drops").GetInt64());
        Assert.Equal(0, cluster.GetProperty("totalDrops").GetInt64());
        // Each loss counter of both roles is listed, at 0 here, and so are the totals kept across restarts.
        var drops = cluster.GetProperty("drops").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
        Assert.Contains("kernel_drops", drops.Keys);
        Assert.Contains("flows_unrecorded", drops.Keys);
        Assert.All(drops.Values, v => Assert.Equal(0, v));
        Assert.Equal(JsonValueKind.Object, cluster.GetProperty("lossTotals").ValueKind);

        Assert.Equal(HttpStatusCode.OK, (await fleet.Http.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fleet.Http.GetAsync("/readyz")).StatusCode);

        var metrics = await fleet.Http.GetStringAsync("/metrics");
        Assert.Contains("flowmesh_node_kernel_drops_total{host=\"host-a\"} 0", metrics, StringComparison.Ordinal);
        // Kinds and help come from the Node's counter table: a gauge is no counter.
        Assert.Contains("# TYPE flowmesh_node_flows_active gauge", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE flowmesh_node_apply_delay_p99_us gauge", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("Node status field", metrics, StringComparison.Ordinal);
        var tagLine = metrics.Split('\n').Single(l => l.StartsWith("flowmesh_aggregator_sessions_total{", StringComparison.Ordinal) && l.Contains("join=\"tag\"", StringComparison.Ordinal));
        Assert.True(long.Parse(tagLine[(tagLine.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture) >= GatewayFleet.Exchanges + 1, tagLine);
        Assert.Contains("flowmesh_gateway_request_duration_seconds_count{route=\"/api/cluster\",status=\"200\"}", metrics, StringComparison.Ordinal);
        // Every loss counter is there to see, at 0 here: nothing was dropped or unreadable.
        foreach (var loss in new[] { "stream_events_dropped_total", "stream_batches_malformed_total", "records_malformed_total", "latency_sketches_malformed_total" })
            Assert.Matches($"(?m)^flowmesh_aggregator_{loss}{{[^}}]*}} 0$", metrics);

        var openapi = await fleet.GetJsonAsync("/openapi/v1.json");
        var paths = openapi.GetProperty("paths");
        foreach (var path in new[] { "/api/flows", "/api/flows/{id}", "/api/sessions", "/api/sessions/{id}", "/api/latency", "/api/heatmap", "/api/edges", "/api/cluster", "/api/stream", "/api/stream/ticket", "/metrics" })
            Assert.True(paths.TryGetProperty(path, out _), $"OpenAPI document lacks {path}");
        // Each operation says what it does and lists the query parameters its handler accepts.
        var latency = paths.GetProperty("/api/latency").GetProperty("get");
        Assert.Contains("P99", latency.GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.Equal(["edge", "from", "host", "metric", "to", "window"],
            latency.GetProperty("parameters").EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query").Select(p => p.GetProperty("name").GetString()).Order());
        var sessions = paths.GetProperty("/api/sessions").GetProperty("get").GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Contains("edge", sessions);
        Assert.Contains("cursor", sessions);
    }

    public static TheoryData<string, string> InvalidQueries => new()
    {
        { "/api/sessions?limit=0", "limit" },
        { "/api/sessions?limit=abc", "limit" },
        { "/api/sessions?limit=1001", "limit" },
        { "/api/sessions?join=magic", "join" },
        { "/api/sessions?reset=maybe", "reset" },
        { "/api/sessions?minDurationMs=-1", "minDurationMs" },
        { "/api/sessions?minDurationMs=NaN", "minDurationMs" },
        { "/api/sessions?incomplete=yes", "incomplete" },
        { "/api/sessions?since=yesterday", "since" },
        { "/api/sessions?cursor=%21%21%21", "cursor" },
        { "/api/sessions?edgee=x", "edgee" },
        { "/api/sessions?limit=5&limit=6", "limit" },
        { "/api/flows?port=0", "port" },
        { "/api/flows?port=70000", "port" },
        { "/api/flows?address=10.0.0.300", "address" },
        { "/api/flows?state=DANCING", "state" },
        { "/api/flows?until=-5", "until" },
        { "/api/flows/not-a-flow", "id" },
        { "/api/flows/host-a/notanumber", "id" },
        { "/api/latency?window=5x", "window" },
        { "/api/latency?window=0m", "window" },
        { "/api/latency?window=48h", "window" },
        { "/api/latency?window=m", "window" },
        { "/api/latency?metric=bandwidth", "metric" },
        { "/api/latency?edge=noarrow", "edge" },
        { "/api/latency?edge=a%3Eb%3A1&host=h", "host" },
        { "/api/latency?window=5m&from=1700000000000", "window" },
        { "/api/latency?to=1700000000000", "to" },
        { "/api/latency?from=1700000060000&to=1700000000000", "to" },
        { "/api/heatmap?from=2026-13-45", "from" },
        { "/api/edges?window=forever", "window" },
        { "/api/cluster?verbose=1", "verbose" },
        { "/api/stream?kind=everything", "kind" },
        { "/api/stream?port=-1", "port" },
    };

    [Theory]
    [MemberData(nameof(InvalidQueries))]
    public async Task An_invalid_parameter_is_a_400_problem_naming_it(string path, string parameter)
    {
        using var response = await fleet.Http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path}: {(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.Equal(parameter, problem.GetProperty("parameter").GetString());
        Assert.Contains(parameter, problem.GetProperty("title").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task A_stream_client_receives_a_new_connections_flow_and_session_within_a_second()
    {
        using var http = new HttpClient { BaseAddress = fleet.Aggregator.GatewayUrl, Timeout = Timeout.InfiniteTimeSpan };
        // Its own port (and so its own edge): the other tests count the fleet's edge.
        using var listener = fleet.Hosts.B.Inside(() => Sockets.Listen(IPAddress.Parse(fleet.Hosts.AddressB), GatewayFleet.StreamPort));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/stream?port={GatewayFleet.StreamPort}");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("retry: 2000", await reader.ReadLineAsync()); // subscribed: what follows is live

        var started = Stopwatch.StartNew();
        var cookie = fleet.Exchange(1234, 4321, listener, GatewayFleet.StreamPort);
        var flowId = $"host-a/{cookie}";
        bool sawFlow = false, sawSession = false;
        TimeSpan flowAt = default, sessionAt = default;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        string? eventName = null;
        while (!(sawFlow && sawSession))
        {
            var line = await reader.ReadLineAsync(deadline.Token) ?? throw new EndOfStreamException("the stream ended");
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                eventName = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var data = JsonDocument.Parse(line[6..]).RootElement;
                if (eventName == "flow" && data.GetProperty("id").GetString() == flowId && !sawFlow)
                {
                    Assert.Equal(1234UL, data.GetProperty("bytesSent").GetUInt64());
                    (sawFlow, flowAt) = (true, started.Elapsed);
                }
                else if (eventName == "session" && data.GetProperty("client").ValueKind == JsonValueKind.Object
                    && data.GetProperty("client").GetProperty("flowId").GetString() == flowId && !sawSession)
                {
                    Assert.Equal("tag", data.GetProperty("join").GetString());
                    Assert.Equal(4321UL, data.GetProperty("bytesServerToClient").GetUInt64());
                    (sawSession, sessionAt) = (true, started.Elapsed);
                }
            }
        }
        Assert.True(flowAt < TimeSpan.FromSeconds(1), $"flow event after {flowAt.TotalMilliseconds:F0} ms");
        Assert.True(sessionAt < TimeSpan.FromSeconds(1), $"session event after {sessionAt.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task The_web_view_loads_with_real_data_in_headless_chromium()
    {
        await using var browser = await WebBrowser.StartAsync();
        await browser.NavigateAsync(new Uri(fleet.Aggregator.GatewayUrl, "/").ToString());
        await browser.WaitUntilAsync("document.body.dataset.loaded === 'true' && document.querySelectorAll('tr.session').length > 0", TimeSpan.FromSeconds(20));

        // The service map lists the edge the traffic made, with its sessions.
        var edge = await browser.EvaluateAsync($"[...document.querySelectorAll('tr.edge')].filter(r => r.dataset.edge === {JsonSerializer.Serialize(fleet.Edge)}).map(r => r.cells[1].textContent)[0]");
        Assert.Equal((GatewayFleet.Exchanges + 1).ToString(CultureInfo.InvariantCulture), edge?.GetValue<string>());
        Assert.True((await browser.EvaluateAsync("document.querySelectorAll('#map line').length"))!.GetValue<int>() >= 2);
        // The heatmap drew cells from real latencies, and the latency line has its figures.
        Assert.True((await browser.EvaluateAsync("document.querySelectorAll('#heatmap rect.cell').length"))!.GetValue<int>() > 0);
        Assert.Contains("P99", (await browser.EvaluateAsync("document.getElementById('latency').textContent"))!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("2 nodes, 1 aggregators", (await browser.EvaluateAsync("document.getElementById('cluster').textContent"))!.GetValue<string>(), StringComparison.Ordinal);
        // Live sessions are linked to their detail: a click shows the session's JSON.
        var id = (await browser.EvaluateAsync("document.querySelector('tr.session').dataset.id"))!.GetValue<string>();
        await browser.EvaluateAsync("document.querySelector('tr.session').click()");
        await browser.WaitUntilAsync($"document.getElementById('detail').textContent.includes({JsonSerializer.Serialize(id)})", TimeSpan.FromSeconds(10));

        var png = await browser.ScreenshotAsync();
        var path = Path.Combine(AppContext.BaseDirectory, "TestResults", "web-view.png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, png);
        Assert.True(png.Length > 10_000, $"screenshot of {png.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }

    [Fact]
    public async Task The_web_views_runtime_panel_shows_the_server_process_and_series_that_the_api_gives_for_the_edge()
    {
        // The truth: the process the edge's sessions name on host B (this test process: it accepted them),
        // and what /api/runtime answers for the edge.
        var servers = (await AllSessionsAsync($"edge={Q(fleet.Edge)}&closed=true&limit=100")).Select(s => s.GetProperty("server"))
            .Where(s => s.ValueKind == JsonValueKind.Object).Select(s => "host-b/" + s.GetProperty("process").GetString()).ToHashSet();
        var truth = await fleet.GetJsonAsync($"/api/runtime?edge={Q(fleet.Edge)}&window=15m");
        var process = truth.GetProperty("process").GetString()!;
        Assert.Contains(process, servers);
        Assert.NotEqual(0, truth.GetProperty("buckets").GetArrayLength());
        var refusedEdge = fleet.Edge.Replace($":{GatewayFleet.Port}", $":{GatewayFleet.ClosedPort}", StringComparison.Ordinal);
        using (var none = await fleet.Http.GetAsync($"/api/runtime?edge={Q(refusedEdge)}"))
            Assert.Equal(HttpStatusCode.NotFound, none.StatusCode); // a refused connection has no server side

        await using var browser = await WebBrowser.StartAsync(height: 1500); // the screenshot shows the session list too
        await browser.NavigateAsync(new Uri(fleet.Aggregator.GatewayUrl, "/").ToString());
        await SelectEdgeAsync(browser, fleet.Edge);
        await browser.WaitUntilAsync($"document.getElementById('runtime-panel').dataset.edge === {JsonSerializer.Serialize(fleet.Edge)}", TimeSpan.FromSeconds(15));

        // The page and the API agree bucket for bucket: the same buckets on both charts, a point per
        // bucket that has each figure. The test process keeps running (and waiting in run queues), so
        // its series gains a bucket every 10 s: both are read again until they meet, which the page's
        // 5 s refresh makes happen within a bucket or two.
        const string Drawn = """
            (() => {
              const count = (selector) => document.querySelectorAll(selector).length;
              return JSON.stringify({
                starts: [...document.querySelectorAll('#runtime-process rect.bucket')].map(r => r.dataset.start).join(','),
                edgeBuckets: count('#runtime-edge rect.bucket'),
                duration: count('#runtime-edge circle.duration'), connect: count('#runtime-edge circle.connect'),
                runQueue: count('#runtime-process circle.runq'), goSchedule: count('#runtime-process circle.gosched'), gc: count('#runtime-process rect.gc'),
                name: document.getElementById('runtime-name').textContent, about: document.getElementById('runtime-about').textContent,
                correlation: document.getElementById('runtime-correlation').textContent,
              });
            })()
            """;
        (JsonElement Api, JsonElement Page) agreed;
        try
        {
            agreed = await ClusterClient.WaitForAsync(
                async () => (await fleet.GetJsonAsync($"/api/runtime?edge={Q(fleet.Edge)}&window=15m"),
                    JsonDocument.Parse((await browser.EvaluateAsync(Drawn))!.GetValue<string>()).RootElement.Clone()),
                pair => PointsOf(pair.Item1) == ShownPoints(pair.Item2), "the page to draw the buckets and points /api/runtime has", TimeSpan.FromSeconds(25));
        }
        finally
        {
            await SaveScreenshotAsync(browser, "web-view-runtime.png");
        }
        var (api, page) = agreed;
        Assert.Equal(process, page.GetProperty("name").GetString());
        Assert.True(page.GetProperty("duration").GetInt32() > 0, "the edge's sessions drew no duration P99");
        Assert.True(page.GetProperty("runQueue").GetInt32() > 0, $"{process} drew no run-queue P99: its threads never waited, or host-b's Node did not watch it");
        var about = page.GetProperty("about").GetString()!;
        foreach (var p in api.GetProperty("processes").EnumerateArray())
        {
            Assert.Contains($"pid {p.GetProperty("pid").GetUInt32()}", about, StringComparison.Ordinal);
            if (p.GetProperty("runtime").GetString() == "dotnet")
                Assert.Contains(".NET", about, StringComparison.Ordinal);
        }
        var correlation = page.GetProperty("correlation").GetString()!;
        foreach (var (field, figure) in new[] { ("runQueueVsDurationCorrelation", "duration"), ("runQueueVsConnectCorrelation", "connect") })
        {
            var r = api.GetProperty(field);
            var shown = r.ValueKind == JsonValueKind.Null ? "–" : r.GetDouble().ToString("F2", CultureInfo.InvariantCulture);
            Assert.Contains($"run-queue P99 vs {figure} P99: r = {shown}", correlation, StringComparison.Ordinal);
        }

        // The session list shows each session's server-side figures that the API has.
        var rows = (await browser.EvaluateAsync("JSON.stringify([...document.querySelectorAll('tr.session')].map(r => [r.dataset.id, r.querySelector('td.runtime').textContent]))"))!.GetValue<string>();
        var shownRows = JsonSerializer.Deserialize<string[][]>(rows)!;
        Assert.NotEmpty(shownRows);
        var measured = 0;
        foreach (var row in shownRows)
        {
            var runtime = (await fleet.GetJsonAsync($"/api/sessions/{Q(row[0])}")).GetProperty("server").GetProperty("runtime");
            foreach (var (field, label) in new[] { ("acceptWaitMs", "accept "), ("runQueueP99Ms", "run queue "), ("goScheduleP99Ms", "Go sched "), ("goroutine", "goroutine "), ("gcPauseOverlapMs", "GC ") })
            {
                var present = runtime.ValueKind == JsonValueKind.Object && runtime.GetProperty(field).ValueKind != JsonValueKind.Null;
                Assert.True(present == row[1].Contains(label, StringComparison.Ordinal), $"session {row[0]}: {field} is {(present ? "" : "not ")}in the API but the row shows '{row[1]}'");
                measured += present ? 1 : 0;
            }
        }
        Assert.True(measured > 0, "no session's server side carried a runtime figure");

        // An edge whose sessions name no server process says so instead of drawing.
        await SelectEdgeAsync(browser, refusedEdge);
        await browser.WaitUntilAsync($"document.getElementById('runtime-panel').dataset.edge === {JsonSerializer.Serialize(refusedEdge)}"
            + " && document.getElementById('runtime-correlation').textContent.includes('no server process is known') && document.getElementById('runtime-charts').hidden",
            TimeSpan.FromSeconds(10));
    }

    /// <summary>What the runtime charts must draw for a /api/runtime answer: its buckets (on both charts) and a point (or bar) per figure present.</summary>
    private static string PointsOf(JsonElement runtime)
    {
        var buckets = runtime.GetProperty("buckets").EnumerateArray().ToList();
        int With(string field) => buckets.Count(b => b.GetProperty(field) is { ValueKind: not JsonValueKind.Null } v && (field != "gcPauseMs" || v.GetDouble() > 0));
        return $"buckets {string.Join(",", buckets.Select(b => b.GetProperty("startUnixMs").GetInt64()))} on both charts; duration {With("edgeDurationP99Ms")}, "
            + $"connect {With("edgeConnectP99Ms")}, run queue {With("runQueueP99Ms")}, Go scheduling {With("goScheduleP99Ms")}, GC {With("gcPauseMs")}";
    }

    /// <summary>The same, as the page drew it.</summary>
    private static string ShownPoints(JsonElement page)
    {
        int N(string name) => page.GetProperty(name).GetInt32();
        var starts = page.GetProperty("starts").GetString()!;
        var both = starts.Length == 0 ? 0 : starts.Split(',').Length;
        return $"buckets {starts} on {(N("edgeBuckets") == both ? "both charts" : $"{N("edgeBuckets")} vs {both}")}; duration {N("duration")}, "
            + $"connect {N("connect")}, run queue {N("runQueue")}, Go scheduling {N("goSchedule")}, GC {N("gc")}";
    }

    /// <summary>Clicks the edge's row in the service map's table, once the page has listed it.</summary>
    private static async Task SelectEdgeAsync(WebBrowser browser, string edge)
    {
        var row = $"[...document.querySelectorAll('tr.edge')].find(r => r.dataset.edge === {JsonSerializer.Serialize(edge)})";
        await browser.WaitUntilAsync($"document.body.dataset.loaded === 'true' && {row}", TimeSpan.FromSeconds(20));
        await browser.EvaluateAsync($"{row}.click()");
    }

    private static async Task SaveScreenshotAsync(WebBrowser browser, string name)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "TestResults", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, await browser.ScreenshotAsync());
    }

    [Fact]
    public async Task Streams_beyond_the_cap_are_refused_and_counted_and_an_open_one_does_not_hold_up_the_stop()
    {
        // A cluster of its own: the other tests count the fleet's members.
        await using var aggregator = await MemberProcess.StartAggregatorAsync(fleet.Redis, fleet.Cluster + "-s", [],
            new Dictionary<string, string> { ["FLOWMESH_GATEWAY__MAXSTREAMCLIENTS"] = "1" });
        using var http = new HttpClient { BaseAddress = aggregator.GatewayUrl, Timeout = Timeout.InfiniteTimeSpan };
        using var stream = await http.GetAsync("/api/stream", HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.Equal("retry: 2000", await reader.ReadLineAsync());

        using var second = await http.GetAsync("/api/stream", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.StatusCode);
        Assert.Equal("application/problem+json", second.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(second.Headers.RetryAfter);
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Matches("(?m)^flowmesh_aggregator_stream_refused_total{[^}]*} 1$", metrics);
        Assert.Matches("(?m)^flowmesh_aggregator_stream_clients{[^}]*} 1$", metrics);

        // The host allows 30 s for a stop; a stream that waited for its client would use all of it.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, await aggregator.TerminateAsync());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"stopping took {clock.Elapsed.TotalSeconds:0.0} s with a stream open");
        Assert.Null(await ReadToEndOrNullAsync(reader)); // the server ended the stream
    }

    private static async Task<string?> ReadToEndOrNullAsync(StreamReader reader)
    {
        try
        {
            while (await reader.ReadLineAsync() is not null)
            {
                // comments and keep-alives until the end
            }
            return null;
        }
        catch (IOException e)
        {
            return e.Message; // the connection was cut, not ended
        }
    }

    [Fact]
    public async Task A_gateway_port_already_taken_is_a_one_line_error()
    {
        using var taken = Sockets.Listen(IPAddress.Loopback);
        var (exit, _, stderr) = await NodeCommand.RunAsync(NodeCommand.AggregatorStartInfo(
            ["run", "--redis", fleet.Redis.Endpoint, "--cluster", fleet.Cluster + "-y", "--listen", $"127.0.0.1:{Sockets.Port(taken)}"]));
        Assert.Equal(2, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("flowmesh: error:", StringComparison.Ordinal));
        Assert.Contains($"cannot listen on 127.0.0.1:{Sockets.Port(taken)}", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Off_loopback_the_gateway_needs_a_token_and_refuses_to_start_without_one()
    {
        var (exit, _, stderr) = await NodeCommand.RunAsync(NodeCommand.AggregatorStartInfo(
            ["run", "--redis", fleet.Redis.Endpoint, "--cluster", fleet.Cluster + "-x", "--listen", "0.0.0.0:0"]));
        Assert.Equal(2, exit);
        Assert.Contains("needs a token", stderr, StringComparison.Ordinal);

        var port = Sockets.FreePort(IPAddress.Any);
        // A cluster of its own: the other tests count the fleet's members.
        await using var guarded = await MemberProcess.StartAggregatorAsync(fleet.Redis, fleet.Cluster + "-t", ["--listen", $"0.0.0.0:{port}", "--token", "s3cret"]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        using var denied = await http.GetAsync("/api/edges");
        Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
        Assert.Equal("application/problem+json", denied.Content.Headers.ContentType?.MediaType);
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/edges") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "guess") } };
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);
        using var right = new HttpRequestMessage(HttpMethod.Get, "/api/edges") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "s3cret") } };
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(right)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);

        // The token is never taken from a URL (proxies and browsers log URLs), even beside a good header.
        foreach (var path in new[] { "/api/edges?access_token=s3cret", "/api/stream?access_token=s3cret", "/api/edges?token=s3cret" })
        {
            using var inUrl = new HttpRequestMessage(HttpMethod.Get, path);
            if (path.Contains("?token=", StringComparison.Ordinal))
                inUrl.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret");
            using var refused = await http.SendAsync(inUrl, HttpCompletionOption.ResponseHeadersRead);
            var problem = await UnauthorizedProblemAsync(refused, path);
            Assert.Equal("token-in-url", problem.GetProperty("reason").GetString());
            Assert.Equal(path.Contains("access_token", StringComparison.Ordinal) ? "access_token" : "token", problem.GetProperty("parameter").GetString());
        }
        // Five 401s in all: no token, a wrong one, and the three tokens in URLs.
        using var metrics = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "s3cret") } };
        Assert.Equal(5, MetricValue(await (await http.SendAsync(metrics)).Content.ReadAsStringAsync(), "flowmesh_aggregator_requests_unauthorized_total"));
    }

    [Fact]
    public async Task A_stream_ticket_opens_one_stream_once_and_a_used_unknown_or_misplaced_one_is_refused()
    {
        // A cluster of its own: the other tests count the fleet's members.
        await using var guarded = await MemberProcess.StartAggregatorAsync(fleet.Redis, fleet.Cluster + "-k", ["--token", "s3cret"]);
        using var http = new HttpClient { BaseAddress = guarded.GatewayUrl, Timeout = Timeout.InfiniteTimeSpan };
        var unauthorized = 0;

        using (var noToken = await http.PostAsync("/api/stream/ticket", null))
        {
            await UnauthorizedProblemAsync(noToken, "POST /api/stream/ticket without a token");
            unauthorized++;
        }
        var (ticket, expires) = await TicketAsync(http, "s3cret");
        Assert.Equal(32, Base64Url.DecodeFromChars(ticket).Length);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.InRange(expires, now + 50_000, now + 61_000); // Gateway:TicketSeconds, 60 by default

        // The ticket opens one stream, without the Authorization header.
        using (var first = await http.GetAsync($"/api/stream?kind=session&ticket={Q(ticket)}", HttpCompletionOption.ResponseHeadersRead))
        {
            // The body only when refused: a stream's never ends.
            if (first.StatusCode != HttpStatusCode.OK)
                Assert.Fail($"a fresh ticket did not open the stream: {(int)first.StatusCode} {await first.Content.ReadAsStringAsync()}");
            Assert.Equal("text/event-stream", first.Content.Headers.ContentType?.MediaType);
            using var reader = new StreamReader(await first.Content.ReadAsStreamAsync());
            Assert.Equal("retry: 2000", await reader.ReadLineAsync());
        }

        // ... and only one: again (as an EventSource's own reconnect would), it is refused as used.
        using (var again = await http.GetAsync($"/api/stream?kind=session&ticket={Q(ticket)}", HttpCompletionOption.ResponseHeadersRead))
        {
            var problem = await UnauthorizedProblemAsync(again, "a used ticket");
            Assert.Equal("ticket-used", problem.GetProperty("reason").GetString());
            Assert.Equal("ticket", problem.GetProperty("parameter").GetString());
            unauthorized++;
        }
        using (var unknown = await http.GetAsync($"/api/stream?ticket={Q(Base64Url.EncodeToString(new byte[32]))}", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal("ticket-unknown", (await UnauthorizedProblemAsync(unknown, "a ticket never issued")).GetProperty("reason").GetString());
            unauthorized++;
        }
        // A ticket opens the stream only, not the rest of the API.
        var (other, _) = await TicketAsync(http, "s3cret");
        using (var misplaced = await http.GetAsync($"/api/edges?ticket={Q(other)}"))
        {
            Assert.Equal("ticket-not-here", (await UnauthorizedProblemAsync(misplaced, "a ticket on /api/edges")).GetProperty("reason").GetString());
            unauthorized++;
        }

        // The header still opens a stream; and with a token there is no Host check (the token is the boundary).
        using var withHeader = new HttpRequestMessage(HttpMethod.Get, "/api/stream") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "s3cret"), Host = "evil.example" } };
        using (var stream = await http.SendAsync(withHeader, HttpCompletionOption.ResponseHeadersRead))
            Assert.Equal(HttpStatusCode.OK, stream.StatusCode);

        var metrics = await MetricsAsync(http, "s3cret");
        Assert.Equal(2, MetricValue(metrics, "flowmesh_aggregator_stream_tickets_issued_total"));
        Assert.Equal(unauthorized, MetricValue(metrics, "flowmesh_aggregator_requests_unauthorized_total"));
        Assert.Equal(0, MetricValue(metrics, "flowmesh_aggregator_stream_tickets_refused_total"));
    }

    [Fact]
    public async Task A_stream_ticket_expires_after_Gateway_TicketSeconds_and_a_full_table_refuses_until_one_does()
    {
        await using var guarded = await MemberProcess.StartAggregatorAsync(fleet.Redis, fleet.Cluster + "-e", ["--token", "s3cret"],
            new Dictionary<string, string> { ["FLOWMESH_GATEWAY__TICKETSECONDS"] = "1", ["FLOWMESH_GATEWAY__MAXSTREAMTICKETS"] = "1" });
        using var http = new HttpClient { BaseAddress = guarded.GatewayUrl, Timeout = Timeout.InfiniteTimeSpan };
        var (ticket, expires) = await TicketAsync(http, "s3cret");
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.InRange(expires, now, now + 1_000);

        // One ticket fills a table of one: the next is refused, counted, and told when to come back.
        using (var full = new HttpRequestMessage(HttpMethod.Post, "/api/stream/ticket") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "s3cret") } })
        using (var refused = await http.SendAsync(full))
        {
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"a ticket beyond Gateway:MaxStreamTickets: {(int)refused.StatusCode} {body}");
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Contains("Gateway:MaxStreamTickets", body, StringComparison.Ordinal);
            Assert.InRange(refused.Headers.RetryAfter?.Delta ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }

        // Past the expiry the gateway gave (same host, same clock), not a guessed sleep.
        await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, expires - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()) + 100));
        using var late = await http.GetAsync($"/api/stream?ticket={Q(ticket)}", HttpCompletionOption.ResponseHeadersRead);
        var problem = await UnauthorizedProblemAsync(late, "an expired ticket");
        Assert.Equal("ticket-expired", problem.GetProperty("reason").GetString());
        Assert.Contains("expired", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        // An expired ticket makes room for a new one.
        await TicketAsync(http, "s3cret");
        var metrics = await MetricsAsync(http, "s3cret");
        Assert.Equal(1, MetricValue(metrics, "flowmesh_aggregator_requests_unauthorized_total"));
        Assert.Equal(1, MetricValue(metrics, "flowmesh_aggregator_stream_tickets_refused_total"));
        Assert.Equal(2, MetricValue(metrics, "flowmesh_aggregator_stream_tickets_issued_total"));
    }

    [Fact]
    public async Task A_loopback_gateway_without_a_token_answers_only_to_this_hosts_names()
    {
        await using var aggregator = await MemberProcess.StartAggregatorAsync(fleet.Redis, fleet.Cluster + "-h", [],
            new Dictionary<string, string> { ["FLOWMESH_GATEWAY__ALLOWEDHOSTS__0"] = "flowmesh.test" });
        using var http = new HttpClient { BaseAddress = aggregator.GatewayUrl };
        var port = aggregator.GatewayUrl.Port;
        foreach (var host in new[] { $"localhost:{port}", "localhost", $"127.0.0.1:{port}", $"[::1]:{port}", $"LOCALHOST:{port}", $"flowmesh.test:{port}" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/edges") { Headers = { Host = host } };
            using var response = await http.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"Host {host}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        // A page whose name was rebound to 127.0.0.1 sends its own name: refused, the probes too.
        var refused = 0;
        foreach (var (host, path) in new[] { ("evil.example", "/api/edges"), ($"evil.example:{port}", "/api/sessions"), ("localhost.evil.example", "/healthz") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { Host = host } };
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"Host {host} on {path}: {(int)response.StatusCode} {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = JsonDocument.Parse(body).RootElement;
            Assert.Equal(host, problem.GetProperty("host").GetString());
            Assert.Contains($"'{host}'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Contains("Gateway:AllowedHosts", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            refused++;
        }
        Assert.Equal(refused, MetricValue(await http.GetStringAsync("/metrics"), "flowmesh_aggregator_requests_host_refused_total"));
    }

    [Fact]
    public async Task A_client_past_its_rate_gets_429s_with_Retry_After_each_counted_and_the_probes_and_a_stream_are_spared()
    {
        await using var aggregator = await MemberProcess.StartAggregatorAsync(fleet.Redis, fleet.Cluster + "-r", [],
            new Dictionary<string, string> { ["FLOWMESH_GATEWAY__REQUESTSPERSECOND"] = "2", ["FLOWMESH_GATEWAY__BURST"] = "2" });
        using var http = new HttpClient { BaseAddress = aggregator.GatewayUrl, Timeout = Timeout.InfiniteTimeSpan };
        var limited = 0;
        TimeSpan retryAfter = default;
        async Task<HttpStatusCode> GetAsync(string path)
        {
            using var response = await http.GetAsync(path);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited++;
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Equal(429, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetInt32());
                retryAfter = response.Headers.RetryAfter?.Delta ?? throw new XunitException($"a 429 on {path} without Retry-After in seconds");
                Assert.InRange(retryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
            }
            return response.StatusCode;
        }

        // A burst of 12 at once: 2 go through (a refill may let one or two more), the rest are refused.
        var burst = new List<HttpStatusCode>();
        for (var i = 0; i < 12; i++)
            burst.Add(await GetAsync("/api/edges"));
        Assert.True(burst.Count(s => s == HttpStatusCode.OK) is >= 2 and <= 6, $"burst of 12 against Burst=2, 2/s: {string.Join(", ", burst)}");
        Assert.All(burst, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{s}"));
        Assert.True(limited >= 6, $"only {limited} of 12 requests were refused");
        // The probes are never limited, however spent the client's budget.
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await GetAsync("/healthz"));
            Assert.Equal(HttpStatusCode.OK, await GetAsync("/readyz"));
        }

        // A stream costs one request at its start, not one per moment it lasts: with one open
        // across two refills, the bucket is full again (two requests in a row go through).
        await WaitOutAsync(retryAfter);
        using var stream = await http.GetAsync("/api/stream", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        await Task.Delay(TimeSpan.FromSeconds(2.2)); // two refill periods of Gateway:RequestsPerSecond: nothing to poll without spending tokens
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK], [await GetAsync("/api/edges"), await GetAsync("/api/edges")]);

        // Every 429 this test received is counted, no more (/metrics is limited too: retried as told).
        string? metrics = null;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (metrics is null)
        {
            using var response = await http.GetAsync("/metrics", deadline.Token);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited++;
                await WaitOutAsync(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1), deadline.Token);
                continue;
            }
            response.EnsureSuccessStatusCode();
            metrics = await response.Content.ReadAsStringAsync(deadline.Token);
        }
        Assert.Equal(limited, MetricValue(metrics, "flowmesh_aggregator_requests_limited_total"));
    }

    [Fact]
    public async Task The_web_view_of_a_gateway_with_a_token_streams_with_a_ticket()
    {
        await using var guarded = await MemberProcess.StartAggregatorAsync(fleet.Redis, fleet.Cluster + "-w", ["--token", "s3cret"]);
        await using var browser = await WebBrowser.StartAsync();
        await browser.NavigateAsync(new Uri(guarded.GatewayUrl, "/#token=s3cret").ToString());
        await browser.WaitUntilAsync("document.body.dataset.loaded === 'true' && document.getElementById('stream-state').textContent === 'live'", TimeSpan.FromSeconds(20));
        using var http = new HttpClient { BaseAddress = guarded.GatewayUrl };
        var metrics = await MetricsAsync(http, "s3cret");
        Assert.Equal(1, MetricValue(metrics, "flowmesh_aggregator_stream_clients"));
        Assert.True(MetricValue(metrics, "flowmesh_aggregator_stream_tickets_issued_total") >= 1, "the page opened its stream without a ticket");
        // Nothing the page asked for was refused: it put the token in no URL.
        var refused = metrics.Split('\n').Where(l => l.StartsWith("flowmesh_gateway_request_duration_seconds_count{", StringComparison.Ordinal) && l.Contains("status=\"401\"", StringComparison.Ordinal));
        Assert.True(MetricValue(metrics, "flowmesh_aggregator_requests_unauthorized_total") == 0, $"the page was refused: {string.Join("; ", refused)}");
    }

    private static async Task<(string Ticket, long ExpiresUnixMs)> TicketAsync(HttpClient http, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/stream/ticket") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) } };
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST /api/stream/ticket: {(int)response.StatusCode} {body}");
        Assert.True(response.Headers.CacheControl?.NoStore == true, "a ticket must not be cached");
        var json = JsonDocument.Parse(body).RootElement;
        return (json.GetProperty("ticket").GetString()!, json.GetProperty("expiresUnixMs").GetInt64());
    }

    private static async Task<string> MetricsAsync(HttpClient http, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) } };
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>A 401 problem+json (the test fails saying what came instead); its body.</summary>
    private static async Task<JsonElement> UnauthorizedProblemAsync(HttpResponseMessage response, string what)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{what}: expected 401, got {(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.NotEmpty(response.Headers.WwwAuthenticate);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>The value of one sample of this metric on /metrics (the Aggregator's own carry one); fails naming it when it is missing.</summary>
    private static long MetricValue(string metrics, string name)
    {
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"/metrics has no {name}");
        return long.Parse(line![(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }

    private static Task WaitOutAsync(TimeSpan retryAfter, CancellationToken ct = default) => Task.Delay(retryAfter + TimeSpan.FromMilliseconds(100), ct);
}
