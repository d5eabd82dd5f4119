using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// Request counts and latency per route, kept as Prometheus histograms. Written here
/// (a few dozen lines) rather than pulling in a metrics library: the text format is
/// simple and every other figure on <c>/metrics</c> is a counter read from elsewhere.
/// </summary>
internal sealed class GatewayMetrics
{
    private static readonly double[] BoundsSeconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    private readonly ConcurrentDictionary<(string Route, int Status), Histogram> _requests = new();

    public void Observe(string route, int status, double seconds) =>
        _requests.GetOrAdd((route, status), _ => new Histogram()).Observe(seconds);

    public void WriteTo(StringBuilder text)
    {
        text.Append("# HELP flowmesh_gateway_request_duration_seconds Gateway requests by route and status.\n");
        text.Append("# TYPE flowmesh_gateway_request_duration_seconds histogram\n");
        foreach (var ((route, status), h) in _requests.OrderBy(r => r.Key.Route, StringComparer.Ordinal).ThenBy(r => r.Key.Status))
        {
            var labels = $"route=\"{PrometheusText.Escape(route)}\",status=\"{status}\"";
            long cumulative = 0;
            for (var i = 0; i < BoundsSeconds.Length; i++)
            {
                cumulative += Interlocked.Read(ref h.Buckets[i]);
                text.Append(CultureInfo.InvariantCulture, $"flowmesh_gateway_request_duration_seconds_bucket{{{labels},le=\"{BoundsSeconds[i]}\"}} {cumulative}\n");
            }
            var count = Interlocked.Read(ref h.Count);
            text.Append(CultureInfo.InvariantCulture, $"flowmesh_gateway_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}\n");
            text.Append(CultureInfo.InvariantCulture, $"flowmesh_gateway_request_duration_seconds_sum{{{labels}}} {h.SumSeconds}\n");
            text.Append(CultureInfo.InvariantCulture, $"flowmesh_gateway_request_duration_seconds_count{{{labels}}} {count}\n");
        }
    }

    private sealed class Histogram
    {
        public readonly long[] Buckets = new long[BoundsSeconds.Length];
        public long Count;
        private long _sumMicros;

        public double SumSeconds => Interlocked.Read(ref _sumMicros) / 1e6;

        public void Observe(double seconds)
        {
            var i = 0;
            while (i < BoundsSeconds.Length && seconds > BoundsSeconds[i])
                i++;
            if (i < BoundsSeconds.Length)
                Interlocked.Increment(ref Buckets[i]);
            Interlocked.Increment(ref Count);
            Interlocked.Add(ref _sumMicros, (long)(seconds * 1e6));
        }
    }
}

/// <summary>Pieces of the Prometheus text exposition format.</summary>
internal static class PrometheusText
{
    public static string Escape(string label) => label.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public static void Metric(StringBuilder text, string name, string type, string help, IEnumerable<(string Labels, double Value)> samples)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        foreach (var (labels, value) in samples)
        {
            text.Append(name);
            if (labels.Length > 0)
                text.Append('{').Append(labels).Append('}');
            text.Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
    }
}
