using System.Globalization;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Anomalies;

/// <summary>Groups recent session anomalies by session, clusters the sessions (DBSCAN over <see cref="AnomalyFeatures"/>) and says what each cluster shares.</summary>
public static class AnomalyClustering
{
    private const int MaxEdgesListed = 10;
    private const int MaxSessionsListed = 20;

    /// <summary>Share of a cluster's members that must agree on a host for the cluster to be named by it.</summary>
    private const double Shared = 0.8;

    /// <param name="anomalies">Anomalies newest first (bucket anomalies are left out).</param>
    /// <param name="radius">DBSCAN's eps, in <see cref="AnomalyFeatures"/> units.</param>
    /// <param name="minSessions">DBSCAN's minimum points.</param>
    public static AnomalyClusters Cluster(IReadOnlyList<AnomalyView> anomalies, double radius, int minSessions)
    {
        // One point per session, its anomalies together, in the order the newest came.
        var sessions = new List<List<AnomalyView>>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var considered = 0;
        foreach (var a in anomalies)
        {
            if (a.Kind != "session" || a.SessionId.Length == 0)
                continue;
            considered++;
            if (!index.TryGetValue(a.SessionId, out var i))
            {
                index[a.SessionId] = i = sessions.Count;
                sessions.Add([]);
            }
            sessions[i].Add(a);
        }
        var result = new AnomalyClusters { Anomalies = considered, Sessions = sessions.Count };
        if (sessions.Count == 0)
            return result;

        var features = new AnomalyFeatures();
        var points = new double[sessions.Count * AnomalyFeatures.Dimensions];
        for (var i = 0; i < sessions.Count; i++)
            features.Fill(sessions[i], points.AsSpan(i * AnomalyFeatures.Dimensions, AnomalyFeatures.Dimensions));
        var labels = Dbscan.Cluster(points, AnomalyFeatures.Dimensions, radius, minSessions);

        var members = new Dictionary<int, List<List<AnomalyView>>>();
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] == Dbscan.Noise)
            {
                result.Noise++;
                continue;
            }
            if (!members.TryGetValue(labels[i], out var list))
                members[labels[i]] = list = [];
            list.Add(sessions[i]);
        }
        var id = 0;
        foreach (var group in members.Values.OrderByDescending(g => g.Count))
            result.Clusters.Add(Describe(id++, group));
        return result;
    }

    private static AnomalyCluster Describe(int id, List<List<AnomalyView>> group)
    {
        var firsts = group.Select(g => g[0]).ToList();
        var cluster = new AnomalyCluster
        {
            Id = id,
            Size = group.Count,
            ClientHost = SharedValue(firsts.Select(a => a.ClientHost)),
            ServerHost = SharedValue(firsts.Select(a => a.ServerHost)),
            FirstUnixMs = firsts.Min(a => a.UnixMs),
            LastUnixMs = firsts.Max(a => a.UnixMs),
        };
        cluster.Edges.AddRange(firsts.GroupBy(a => a.Edge).OrderByDescending(e => e.Count()).ThenBy(e => e.Key, StringComparer.Ordinal)
            .Take(MaxEdgesListed).Select(e => e.Key));
        cluster.SessionIds.AddRange(firsts.Take(MaxSessionsListed).Select(a => a.SessionId));
        var parts = new List<string>();
        foreach (var metric in AnomalyMetrics.OfSessions)
        {
            var of = group.Select(g => g.FirstOrDefault(a => a.Metric == metric.Name())).OfType<AnomalyView>().ToList();
            if (of.Count * 2 < group.Count)
                continue;
            cluster.Metrics.Add(metric.Name());
            parts.Add(metric.IsRate()
                ? $"{metric.Name()} {metric.Format(Median(of.Select(a => a.Value)))} (usually {metric.Format(Median(of.Select(a => a.Baseline)))})"
                : $"{metric.Name()} +{metric.Format(Median(of.Select(a => a.Value - a.Baseline)))}");
        }
        if (firsts.Count(a => a.Reset) * 2 >= group.Count)
            parts.Add("reset");
        var from = cluster.ClientHost.Length > 0 ? $" from {cluster.ClientHost}" : "";
        var to = cluster.ServerHost.Length > 0 ? $" to {cluster.ServerHost}" : "";
        var on = cluster.Edges.Count == 1 ? $" ({cluster.Edges[0]})" : $" ({cluster.Edges.Count.ToString(CultureInfo.InvariantCulture)} edges)";
        cluster.Summary = $"{group.Count.ToString(CultureInfo.InvariantCulture)} sessions{from}{to}{on}: {string.Join(", ", parts)}";
        return cluster;
    }

    /// <summary>The value most share, when at least <see cref="Shared"/> of them do; else "".</summary>
    private static string SharedValue(IEnumerable<string> values)
    {
        var list = values.ToList();
        var top = list.Where(v => v.Length > 0).GroupBy(v => v).OrderByDescending(g => g.Count()).FirstOrDefault();
        return top is not null && top.Count() >= Shared * list.Count ? top.Key : "";
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
