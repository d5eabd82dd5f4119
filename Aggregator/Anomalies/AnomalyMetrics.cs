using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Anomalies;

/// <summary>How each metric is named, measured and put on a log scale.</summary>
public static class AnomalyMetrics
{
    /// <summary>Every metric, in the order features and lists use.</summary>
    public static readonly AnomalyMetric[] All = Enum.GetValues<AnomalyMetric>();

    /// <summary>The metrics judged per session (the rates of resets only make sense over a bucket).</summary>
    public static readonly AnomalyMetric[] OfSessions = [AnomalyMetric.Connect, AnomalyMetric.Duration, AnomalyMetric.Rtt, AnomalyMetric.Retransmissions];

    /// <summary>The metrics judged per 10 s bucket of an edge.</summary>
    public static readonly AnomalyMetric[] OfBuckets = [AnomalyMetric.Retransmissions, AnomalyMetric.Resets];

    // Rates are often exactly 0: the log needs a floor, well below any rate worth a look.
    private const double RateFloor = 0.001;

    public static string Name(this AnomalyMetric metric) => metric switch
    {
        AnomalyMetric.Connect => "connect",
        AnomalyMetric.Duration => "duration",
        AnomalyMetric.Rtt => "rtt",
        AnomalyMetric.Retransmissions => "retransmissions",
        _ => "resets",
    };

    public static bool TryParse(string name, out AnomalyMetric metric)
    {
        foreach (var m in All)
        {
            if (m.Name() == name)
            {
                metric = m;
                return true;
            }
        }
        metric = default;
        return false;
    }

    /// <summary>Rates are fractions; the rest are milliseconds.</summary>
    public static bool IsRate(this AnomalyMetric metric) => metric is AnomalyMetric.Retransmissions or AnomalyMetric.Resets;

    public static double ToLog(this AnomalyMetric metric, double value) => Math.Log(metric.IsRate() ? value + RateFloor : Math.Max(value, 0.001));

    public static double FromLog(this AnomalyMetric metric, double log) => metric.IsRate() ? Math.Max(0, Math.Exp(log) - RateFloor) : Math.Exp(log);

    /// <summary>The session's value of a per-session metric, or null when it has none (no client side, not closed, no segments).</summary>
    public static double? ValueOf(this AnomalyMetric metric, SessionView s)
    {
        switch (metric)
        {
            case AnomalyMetric.Connect:
                return s.ConnectMs > 0 ? s.ConnectMs : null;
            case AnomalyMetric.Duration:
                var duration = s.Client is not null ? s.ClientDurationMs : s.ServerDurationMs;
                return s.Closed && duration > 0 ? duration : null;
            case AnomalyMetric.Rtt:
                var rtt = s.ClientRttMs > 0 ? s.ClientRttMs : s.ServerRttMs;
                return rtt > 0 ? rtt : null;
            case AnomalyMetric.Retransmissions:
                var (retransmitted, segments) = RetransmittedOf(s);
                return segments > 0 ? (double)retransmitted / segments : null;
            default:
                return null;
        }
    }

    /// <summary>Segments retransmitted and sent, both sides together.</summary>
    public static (long Retransmitted, long Segments) RetransmittedOf(SessionView s) =>
        ((long)(s.Client?.Retransmissions ?? 0) + (s.Server?.Retransmissions ?? 0), (long)(s.Client?.SegmentsOut ?? 0) + (s.Server?.SegmentsOut ?? 0));

    /// <summary>A value as a person reads it: "1012 ms", "4.2%".</summary>
    public static string Format(this AnomalyMetric metric, double value) => metric.IsRate()
        ? (value * 100).ToString("0.#", System.Globalization.CultureInfo.InvariantCulture) + "%"
        : value.ToString(value >= 10 ? "0" : "0.##", System.Globalization.CultureInfo.InvariantCulture) + " ms";
}
