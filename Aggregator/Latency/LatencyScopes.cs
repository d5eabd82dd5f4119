using FlowMesh.Contracts.Latency;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Latency;

/// <summary>
/// Names of latency series. A scope is the whole cluster (<c>all</c>), one edge
/// (<c>edge:{client workload}&gt;{server address:port}</c>) or one host
/// (<c>host:{host id}</c>, the values that host measured).
/// </summary>
public static class LatencyScopes
{
    public const string All = "all";

    public static string Edge(string edge) => "edge:" + edge;

    public static string Host(string hostId) => "host:" + hostId;

    public static string Name(this LatencyMetric metric) => metric switch
    {
        LatencyMetric.Connect => "connect",
        LatencyMetric.Duration => "duration",
        LatencyMetric.RunQueue => RuntimeSeries.RunQueue,
        LatencyMetric.GoSchedule => RuntimeSeries.GoSchedule,
        LatencyMetric.GcPause => RuntimeSeries.GcPause,
        _ => "rtt",
    };

    public static bool TryParse(string? text, out LatencyMetric metric)
    {
        switch (text)
        {
            case "connect": metric = LatencyMetric.Connect; return true;
            case "duration": metric = LatencyMetric.Duration; return true;
            case "rtt": metric = LatencyMetric.Rtt; return true;
            case RuntimeSeries.RunQueue: metric = LatencyMetric.RunQueue; return true;
            case RuntimeSeries.GoSchedule: metric = LatencyMetric.GoSchedule; return true;
            case RuntimeSeries.GcPause: metric = LatencyMetric.GcPause; return true;
            default: metric = default; return false;
        }
    }

    /// <summary>
    /// The values a settlement adds that the view settled before it (<paramref name="before"/>,
    /// counted under <paramref name="edgeBefore"/>) did not: each value once, the first time
    /// and what later views add (a side's late events, e.g. an ESTABLISHED that reached its
    /// flow after the close, from another CPU's ring). The sketches and the Prometheus
    /// histograms take the same values.
    /// </summary>
    public static IEnumerable<(string Scope, LatencyMetric Metric, double Micros)> NewValuesOf(SessionView session, string edge, SessionView? before, string? edgeBefore)
    {
        if (before is null)
            return ValuesOf(session, edge);
        var done = ValuesOf(before, edgeBefore ?? edge).Select(v => (v.Scope, v.Metric)).ToHashSet();
        return ValuesOf(session, edge).Where(v => !done.Contains((v.Scope, v.Metric)));
    }

    /// <summary>
    /// The values one settled session adds, in microseconds, with their scopes: the
    /// cluster and the edge take the session's figures (the client's when it was seen),
    /// each host the figures its own side measured.
    /// </summary>
    public static IEnumerable<(string Scope, LatencyMetric Metric, double Micros)> ValuesOf(SessionView s, string edge)
    {
        var connected = s.Client is { EstablishedUnixNs: > 0 };
        var durationMs = s.Client is not null ? s.ClientDurationMs : s.ServerDurationMs;
        var rttMs = s.ClientRttMs > 0 ? s.ClientRttMs : s.ServerRttMs;
        foreach (var scope in new[] { All, Edge(edge) })
        {
            if (connected)
                yield return (scope, LatencyMetric.Connect, s.ConnectMs * 1000);
            yield return (scope, LatencyMetric.Duration, durationMs * 1000);
            if (rttMs > 0)
                yield return (scope, LatencyMetric.Rtt, rttMs * 1000);
        }
        if (s.Client is { HostId.Length: > 0 } client)
        {
            var host = Host(client.HostId);
            if (connected)
                yield return (host, LatencyMetric.Connect, s.ConnectMs * 1000);
            yield return (host, LatencyMetric.Duration, s.ClientDurationMs * 1000);
            if (s.ClientRttMs > 0)
                yield return (host, LatencyMetric.Rtt, s.ClientRttMs * 1000);
        }
        if (s.Server is { HostId.Length: > 0 } server)
        {
            var host = Host(server.HostId);
            yield return (host, LatencyMetric.Duration, s.ServerDurationMs * 1000);
            if (s.ServerRttMs > 0)
                yield return (host, LatencyMetric.Rtt, s.ServerRttMs * 1000);
        }
    }
}
