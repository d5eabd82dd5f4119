using System.Collections.Concurrent;
using System.Globalization;
using FlowMesh.Aggregator.Sessions;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Anomalies;

/// <summary>
/// Judges every settled session against its edge's baselines (<see cref="RobustBaseline"/>):
/// per session its connect latency, duration, RTT and share of segments retransmitted, and
/// per 10 s bucket of the edge its retransmission and reset rates. A value at least
/// <see cref="AnomalySettings.Sigmas"/> σ above its baseline, and above it by at least the
/// metric's minimum excess, is an anomaly; each is told to <c>found</c> (stored, streamed).
/// Only values above count: a connection faster than usual is nobody's problem.
/// Each Aggregator learns from the sessions it settles, a share of every edge's (sessions
/// are spread by key), which is enough for a baseline and needs no coordination.
/// </summary>
public sealed class AnomalyDetector(AnomalySettings settings, string memberId, Action<AnomalyView> found) : ISessionSubscriber
{
    private readonly ConcurrentDictionary<string, EdgeAnomalyState> _edges = new(StringComparer.Ordinal);
    private readonly long[] _found = new long[AnomalyMetrics.All.Length];
    private long _edgesShed;

    /// <summary>Anomalies found, of one metric.</summary>
    public long Found(AnomalyMetric metric) => Interlocked.Read(ref _found[(int)metric]);

    /// <summary>Edges with baselines.</summary>
    public int Edges => _edges.Count;

    /// <summary>Sessions not judged: their edge came after <see cref="AnomalySettings.MaxEdges"/> others.</summary>
    public long EdgesShed => Interlocked.Read(ref _edgesShed);

    public void Settled(in SettledSession session)
    {
        if (!session.IsNews || session.Edge == EdgeCap.Other)
            return;
        var state = StateOf(session.Edge);
        if (state is null)
        {
            Interlocked.Increment(ref _edgesShed);
            return;
        }
        var view = session.View;
        List<AnomalyView>? anomalies = null;
        lock (state)
        {
            state.ClientHost = view.ClientHost;
            state.ServerHost = view.ServerHost;
            foreach (var metric in AnomalyMetrics.OfSessions)
            {
                // A late side is judged on what it adds, so no value is learned twice.
                if (metric.ValueOf(view) is not { } value || session.Previous is { } before && metric.ValueOf(before) is not null)
                    continue;
                if (Judge(state.Sessions[(int)metric], metric, value) is { } sigmas)
                    (anomalies ??= []).Add(SessionAnomaly(view, session.Edge, metric, value, state.Sessions[(int)metric], sigmas));
                state.Sessions[(int)metric].Add(metric.ToLog(value));
            }
            if (session.First)
                AddToBucket(state, session.Edge, view, ref anomalies);
        }
        Tell(anomalies);
    }

    /// <summary>Closes the buckets no session has reached for two bucket lengths (an edge gone quiet), judging them.</summary>
    public void CloseQuietBuckets(long nowUnixMs)
    {
        List<AnomalyView>? anomalies = null;
        foreach (var (edge, state) in _edges)
        {
            lock (state)
            {
                if (state.BucketSessions > 0 && state.BucketStartMs + 2 * EdgeAnomalyState.BucketMs <= nowUnixMs)
                {
                    CloseBucket(state, edge, ref anomalies);
                    state.StartBucket(0);
                }
            }
        }
        Tell(anomalies);
    }

    private EdgeAnomalyState? StateOf(string edge)
    {
        if (_edges.TryGetValue(edge, out var state))
            return state;
        // Two shards may race for the last place: one edge over at worst.
        return _edges.Count < settings.MaxEdges ? _edges.GetOrAdd(edge, _ => new EdgeAnomalyState(settings)) : null;
    }

    /// <summary>The value's σ above the baseline if it is an anomaly, else null.</summary>
    private double? Judge(RobustBaseline baseline, AnomalyMetric metric, double value)
    {
        if (!baseline.Ready)
            return null;
        var sigmas = baseline.Score(metric.ToLog(value));
        var excess = value - metric.FromLog(baseline.Centre);
        return sigmas >= settings.Sigmas && excess >= MinExcess(metric) ? sigmas : null;
    }

    private double MinExcess(AnomalyMetric metric) => metric switch
    {
        AnomalyMetric.Duration => settings.MinExcessMs * 10,
        _ when metric.IsRate() => settings.MinExcessRate,
        _ => settings.MinExcessMs,
    };

    private void AddToBucket(EdgeAnomalyState state, string edge, SessionView view, ref List<AnomalyView>? anomalies)
    {
        var bucket = Math.Max(0, view.EndUnixMs) / EdgeAnomalyState.BucketMs * EdgeAnomalyState.BucketMs;
        if (state.BucketStartMs == 0)
        {
            state.StartBucket(bucket);
        }
        else if (bucket > state.BucketStartMs)
        {
            CloseBucket(state, edge, ref anomalies);
            state.StartBucket(bucket);
        }
        // A session that ended in an earlier bucket than the one filling (it settled late) counts in this one.
        state.BucketSessions++;
        if (EdgeCounters.WasReset(view))
            state.BucketResets++;
        var (retransmitted, segments) = AnomalyMetrics.RetransmittedOf(view);
        state.BucketRetransmitted += retransmitted;
        state.BucketSegments += segments;
    }

    private void CloseBucket(EdgeAnomalyState state, string edge, ref List<AnomalyView>? anomalies)
    {
        if (state.BucketSessions < settings.MinBucketSessions)
            return;
        foreach (var metric in AnomalyMetrics.OfBuckets)
        {
            double? rate = metric == AnomalyMetric.Resets
                ? (double)state.BucketResets / state.BucketSessions
                : state.BucketSegments > 0 ? (double)state.BucketRetransmitted / state.BucketSegments : null;
            if (rate is not { } value)
                continue;
            var baseline = state.Buckets[(int)metric];
            if (Judge(baseline, metric, value) is { } sigmas)
            {
                var anomaly = Anomaly($"{edge}#{state.BucketStartMs.ToString(CultureInfo.InvariantCulture)}", "bucket", metric, edge, state.ClientHost, state.ServerHost,
                    state.BucketStartMs, value, baseline, sigmas, $" over {state.BucketSessions} sessions in 10 s");
                anomaly.BucketSessions = (uint)state.BucketSessions;
                (anomalies ??= []).Add(anomaly);
            }
            baseline.Add(metric.ToLog(value));
        }
    }

    private AnomalyView SessionAnomaly(SessionView view, string edge, AnomalyMetric metric, double value, RobustBaseline baseline, double sigmas)
    {
        var anomaly = Anomaly(view.Id, "session", metric, edge, view.ClientHost, view.ServerHost, view.EndUnixMs, value, baseline, sigmas, "");
        anomaly.SessionId = view.Id;
        anomaly.Bytes = view.BytesClientToServer + view.BytesServerToClient;
        anomaly.Reset = EdgeCounters.WasReset(view);
        return anomaly;
    }

    /// <summary>What every anomaly says, session or bucket; <paramref name="over"/> is put after the value in its reason.</summary>
    private AnomalyView Anomaly(string of, string kind, AnomalyMetric metric, string edge, string clientHost, string serverHost, long unixMs,
        double value, RobustBaseline baseline, double sigmas, string over)
    {
        var usual = metric.FromLog(baseline.Centre);
        return new AnomalyView
        {
            Id = $"{of}#{metric.Name()}",
            Kind = kind,
            Metric = metric.Name(),
            Edge = edge,
            ClientHost = clientHost,
            ServerHost = serverHost,
            UnixMs = unixMs,
            Value = value,
            Baseline = usual,
            Sigmas = sigmas,
            Reason = $"{metric.Name()} {metric.Format(value)}{over}, against a usual {metric.Format(usual)} on this edge ({sigmas.ToString("0.#", CultureInfo.InvariantCulture)}σ above)",
            Aggregator = memberId,
        };
    }

    private void Tell(List<AnomalyView>? anomalies)
    {
        if (anomalies is null)
            return;
        foreach (var a in anomalies)
        {
            if (AnomalyMetrics.TryParse(a.Metric, out var metric))
                Interlocked.Increment(ref _found[(int)metric]);
            found(a);
        }
    }
}
