using FlowMesh.Aggregator.Latency;
using FlowMesh.Aggregator.Sessions;
using FlowMesh.Contracts.Messages;
using Prometheus;

namespace FlowMesh.Aggregator.Metrics;

/// <summary>
/// The service map as Prometheus series, per edge (labels <c>client</c> and <c>server</c>,
/// the edge's two ends as <see cref="Edges"/> spells them) and per host: sessions, errors by
/// kind, bytes each way, trace tag outcomes, and connect latency, duration and RTT as
/// histograms. Each Aggregator counts the sessions it settles, so a query sums over the
/// Aggregators it scrapes (<c>sum by (client, server, le)</c>).
/// </summary>
/// <remarks>
/// Counted as <see cref="EdgeCounters"/> counts (sessions, errors, tags and bytes once per
/// connection, on its first settle) and as the latency sketches take values
/// (<see cref="LatencyScopes.NewValuesOf"/>: each value once, whatever settles later), so
/// <c>histogram_quantile</c> over these histograms and <c>/api/latency</c> answer from the
/// same values. The sketch keeps 0.5% accuracy with about 230 buckets a decade; a
/// Prometheus histogram needs one fixed set of bounds for every series and every
/// Aggregator, so the bounds here are <see cref="BoundsSeconds"/>, and a quantile is
/// exact to the bucket it falls in.
/// <para>
/// Edges are those <see cref="EdgeCap"/> admitted (<c>Sessions:MaxEdges</c>), and of those the
/// first <c>Metrics:MaxEdges</c> (<see cref="MetricsSettings"/>): each edge is about 90
/// series, so 1,000 edges are about 90,000. Sessions on the edges after that are counted
/// under <c>client="other",server="other"</c>, and the folds in <see cref="Folded"/>.
/// </para>
/// </remarks>
public sealed class SessionMetrics : ISessionSubscriber
{
    /// <summary>Histogram bounds in seconds, 1-2.5-5 from 10 us to 100 s: RTTs of a few microseconds on one host up to sessions of minutes.</summary>
    public static readonly double[] BoundsSeconds =
    [
        0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
        0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100,
    ];

    private static readonly string[] EdgeLabels = ["client", "server"];
    private static readonly string[] HostLabels = ["host"];

    private readonly EdgeCap _cap;
    private readonly Counter _edgeSessions;
    private readonly Counter _edgeErrors;
    private readonly Counter _edgeBytes;
    private readonly Counter _edgeTags;
    private readonly Counter _hostSessions;
    private readonly Counter _hostErrors;
    private readonly Counter _hostBytes;
    private readonly Dictionary<LatencyMetric, Histogram> _edgeLatency;
    private readonly Dictionary<LatencyMetric, Histogram> _hostLatency;

    public SessionMetrics(IMetricFactory metrics, MetricsSettings settings)
    {
        _cap = new EdgeCap(settings.MaxEdges);
        _edgeSessions = metrics.CreateCounter("flowmesh_edge_sessions_total", "Sessions settled on each edge (client end > server end).", EdgeLabels);
        _edgeErrors = metrics.CreateCounter("flowmesh_edge_errors_total",
            "Sessions on each edge that failed, by kind: reset_by_client, reset_by_server, refused, connect_timeout.", [.. EdgeLabels, "kind"]);
        _edgeBytes = metrics.CreateCounter("flowmesh_edge_bytes_total",
            "Payload bytes on each edge's sessions, by direction: client_to_server, server_to_client.", [.. EdgeLabels, "direction"]);
        _edgeTags = metrics.CreateCounter("flowmesh_edge_tags_total",
            "Sessions on each edge whose client sent a trace tag, by outcome: survived, stripped_on_path, echo_stripped, peer_not_instrumented, no_handshake.",
            [.. EdgeLabels, "outcome"]);
        _hostSessions = metrics.CreateCounter("flowmesh_host_sessions_total", "Sessions settled with a side on each host, by the side it saw (client or server).", [.. HostLabels, "side"]);
        _hostErrors = metrics.CreateCounter("flowmesh_host_errors_total", "Failed sessions with a side on each host, by side and kind (as flowmesh_edge_errors_total).",
            [.. HostLabels, "side", "kind"]);
        _hostBytes = metrics.CreateCounter("flowmesh_host_bytes_total", "Payload bytes on sessions with a side on each host, by side and direction.",
            [.. HostLabels, "side", "direction"]);
        _edgeLatency = Histograms(metrics, "edge", "each edge", EdgeLabels);
        _hostLatency = Histograms(metrics, "host", "each host (the values its own sides measured)", HostLabels);
    }

    /// <summary>Sessions counted under <c>other</c> because their edge came after <c>Metrics:MaxEdges</c> others.</summary>
    public long Folded => _cap.Folded;

    /// <summary>Edges with series of their own.</summary>
    public int AdmittedEdges => _cap.Admitted;

    public void Settled(in SettledSession session)
    {
        var edge = session.Edge == EdgeCap.Other ? EdgeCap.Other : session.IsNews ? _cap.Admit(session.Edge) : _cap.Known(session.Edge);
        var before = session.PreviousEdge is { } previous ? _cap.Known(previous) : null;
        var view = session.View;
        foreach (var (scope, metric, micros) in LatencyScopes.NewValuesOf(view, edge, session.Previous, before))
        {
            if (scope.StartsWith(LatencyScopes.Edge(""), StringComparison.Ordinal))
                _edgeLatency[metric].WithLabels(Ends(edge)).Observe(micros / 1e6);
            else if (scope.StartsWith(LatencyScopes.Host(""), StringComparison.Ordinal))
                _hostLatency[metric].WithLabels(scope[LatencyScopes.Host("").Length..]).Observe(micros / 1e6);
        }
        if (session.First)
            Count(view, Ends(edge));
    }

    private void Count(SessionView s, string[] ends)
    {
        var error = ErrorKind(s);
        _edgeSessions.WithLabels(ends).Inc();
        if (error is not null)
            _edgeErrors.WithLabels(ends[0], ends[1], error).Inc();
        _edgeBytes.WithLabels(ends[0], ends[1], "client_to_server").Inc(s.BytesClientToServer);
        _edgeBytes.WithLabels(ends[0], ends[1], "server_to_client").Inc(s.BytesServerToClient);
        var outcome = EdgeCounters.Classify(s);
        if (outcome != TagOutcome.NotSent)
            _edgeTags.WithLabels(ends[0], ends[1], EdgeCounters.OutcomeName(outcome)).Inc();
        foreach (var (side, host) in new[] { ("client", s.Client?.HostId), ("server", s.Server?.HostId) })
        {
            if (string.IsNullOrEmpty(host))
                continue;
            _hostSessions.WithLabels(host, side).Inc();
            if (error is not null)
                _hostErrors.WithLabels(host, side, error).Inc();
            _hostBytes.WithLabels(host, side, "client_to_server").Inc(s.BytesClientToServer);
            _hostBytes.WithLabels(host, side, "server_to_client").Inc(s.BytesServerToClient);
        }
    }

    /// <summary>Why a session counts as an error (<see cref="EdgeCounters.IsError"/>), or null. A refused connect is refused, though a reset refused it.</summary>
    private static string? ErrorKind(SessionView s) => s switch
    {
        { Client.CloseReason: CloseReason.Refused } => "refused",
        { Client.CloseReason: CloseReason.ConnectTimeout } => "connect_timeout",
        { Reset: "client" } => "reset_by_client",
        { Reset: "server" } => "reset_by_server",
        _ => null,
    };

    private static string[] Ends(string edge) => Edges.Split(edge) is var (client, server) ? [client, server] : [edge, ""];

    private static Dictionary<LatencyMetric, Histogram> Histograms(IMetricFactory metrics, string scope, string what, string[] labels)
    {
        Histogram Make(string name, string help) => metrics.CreateHistogram($"flowmesh_{scope}_{name}_seconds", $"{help} on {what}, in seconds.",
            labels, new HistogramConfiguration { Buckets = BoundsSeconds });
        return new Dictionary<LatencyMetric, Histogram>
        {
            [LatencyMetric.Connect] = Make("connect", "Connect latency (client connect() to established)"),
            [LatencyMetric.Duration] = Make("duration", "Session duration"),
            [LatencyMetric.Rtt] = Make("rtt", "Smoothed RTT"),
        };
    }
}
