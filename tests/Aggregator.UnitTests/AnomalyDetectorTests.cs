using FlowMesh.Aggregator.Anomalies;
using FlowMesh.Aggregator.Sessions;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.UnitTests;

public sealed class AnomalyDetectorTests
{
    private const string Edge = "client>10.0.0.2:80";
    private static readonly AnomalySettings Settings = new();

    [Fact]
    public void The_baseline_starts_at_the_warm_up_median_and_a_bad_first_value_does_not_set_it()
    {
        var baseline = new RobustBaseline(warmUp: 5, span: 10);
        foreach (var v in new[] { 100.0, 1, 1.1, 0.9, 1 })
            baseline.Add(Math.Log(v));
        Assert.True(baseline.Ready);
        Assert.Equal(1.0, Math.Exp(baseline.Centre), 3);
        Assert.True(baseline.Score(Math.Log(100)) > 3, $"100 against 1 scored {baseline.Score(Math.Log(100))}");
        Assert.True(baseline.Score(Math.Log(1.05)) < 3);
    }

    [Fact]
    public void An_outlier_moves_the_baseline_no_more_than_a_value_at_three_sigma()
    {
        var random = new Random(1);
        var baseline = new RobustBaseline(warmUp: 20, span: 100);
        for (var i = 0; i < 200; i++)
            baseline.Add(Math.Log(1 + 0.1 * random.NextDouble()));
        var before = baseline.Centre;
        var sigma = baseline.Sigma;
        baseline.Add(Math.Log(1e6));
        Assert.InRange(baseline.Centre - before, 0, 3 * sigma * 2.0 / 101 / 20 + 1e-12);
        Assert.Equal(sigma, baseline.Sigma);
    }

    [Fact]
    public void A_fault_that_makes_a_third_of_the_values_outliers_for_a_long_while_stays_an_anomaly()
    {
        var random = new Random(3);
        var baseline = new RobustBaseline(warmUp: 20, span: 100);
        for (var i = 0; i < 100; i++)
            baseline.Add(Math.Log(0.1 + 0.05 * random.NextDouble()));
        for (var i = 0; i < 1000; i++)
            baseline.Add(Math.Log(i % 3 == 0 ? 1000 : 0.1 + 0.05 * random.NextDouble()));
        Assert.True(baseline.Score(Math.Log(1000)) > 3, $"1000 ms scored {baseline.Score(Math.Log(1000))}σ after 1000 values of the fault");
    }

    [Fact]
    public void Connects_a_second_late_after_a_normal_warm_up_are_anomalies_and_normal_ones_are_not()
    {
        var found = new List<AnomalyView>();
        var detector = new AnomalyDetector(Settings, "agg", found.Add);
        var random = new Random(2);
        for (var i = 0; i < 100; i++)
            detector.Settled(new SettledSession(Session($"n{i}", connectMs: 0.1 + 0.05 * random.NextDouble()), Edge));
        Assert.Empty(found);
        detector.Settled(new SettledSession(Session("slow", connectMs: 1001), Edge));
        var anomaly = Assert.Single(found);
        Assert.Equal("connect", anomaly.Metric);
        Assert.Equal("session", anomaly.Kind);
        Assert.Equal("slow", anomaly.SessionId);
        Assert.Equal(Edge, anomaly.Edge);
        Assert.True(anomaly.Sigmas >= 3);
        Assert.InRange(anomaly.Baseline, 0.1, 0.15);
        Assert.Contains("connect 1001 ms", anomaly.Reason, StringComparison.Ordinal);
        Assert.Equal(1, detector.Found(AnomalyMetric.Connect));
    }

    [Fact]
    public void A_value_many_sigmas_above_but_within_the_minimum_excess_is_not_an_anomaly()
    {
        var found = new List<AnomalyView>();
        var detector = new AnomalyDetector(Settings, "agg", found.Add);
        for (var i = 0; i < 50; i++)
            detector.Settled(new SettledSession(Session($"n{i}", connectMs: 0.1), Edge));
        detector.Settled(new SettledSession(Session("jitter", connectMs: 5), Edge)); // 50× but only +4.9 ms
        Assert.Empty(found);
    }

    [Fact]
    public void Nothing_is_judged_during_the_warm_up()
    {
        var found = new List<AnomalyView>();
        var detector = new AnomalyDetector(Settings, "agg", found.Add);
        for (var i = 0; i < Settings.WarmUp - 1; i++)
            detector.Settled(new SettledSession(Session($"n{i}", connectMs: 0.1), Edge));
        detector.Settled(new SettledSession(Session("slow", connectMs: 1000), Edge));
        Assert.Empty(found);
    }

    [Fact]
    public void A_side_told_again_is_not_judged_twice_and_a_late_side_only_for_what_it_adds()
    {
        var found = new List<AnomalyView>();
        var detector = new AnomalyDetector(Settings, "agg", found.Add);
        for (var i = 0; i < 50; i++)
            detector.Settled(new SettledSession(Session($"n{i}", connectMs: 0.1), Edge));
        var slow = Session("slow", connectMs: 1000);
        detector.Settled(new SettledSession(slow, Edge));
        Assert.Single(found);
        detector.Settled(new SettledSession(slow, Edge, Previous: slow, PreviousEdge: Edge)); // not news
        var joined = slow.Clone();
        joined.Join = JoinMethod.Isn;
        var oneSided = slow.Clone();
        oneSided.Join = JoinMethod.OneSided;
        detector.Settled(new SettledSession(joined, Edge, Previous: oneSided, PreviousEdge: Edge)); // late join: connect was known
        Assert.Single(found);
    }

    [Fact]
    public void A_bucket_whose_reset_rate_jumps_is_an_anomaly_and_sessions_past_max_edges_are_counted_unjudged()
    {
        var found = new List<AnomalyView>();
        var detector = new AnomalyDetector(Settings with { MaxEdges = 1 }, "agg", found.Add);
        var t = 1_700_000_000_000L;
        // 25 quiet buckets of 10 sessions with no reset, then one where half are reset.
        for (var b = 0; b < 26; b++)
        {
            for (var i = 0; i < 10; i++)
                detector.Settled(new SettledSession(Session($"b{b}s{i}", connectMs: 0.1, endMs: t + b * 10_000 + i, reset: b == 25 && i % 2 == 0), Edge));
        }
        detector.CloseQuietBuckets(t + 50 * 10_000);
        var bucket = Assert.Single(found, a => a.Kind == "bucket");
        Assert.Equal("resets", bucket.Metric);
        Assert.Equal(0.5, bucket.Value, 6);
        Assert.Equal(10u, bucket.BucketSessions);
        Assert.Equal(t + 25 * 10_000 - (t + 25 * 10_000) % 10_000, bucket.UnixMs);

        detector.Settled(new SettledSession(Session("elsewhere", connectMs: 0.1), "other>10.0.0.3:80"));
        Assert.Equal(1, detector.EdgesShed);
        Assert.Equal(1, detector.Edges);
    }

    [Fact]
    public void Sessions_with_retransmissions_on_an_edge_that_had_none_are_anomalies()
    {
        var found = new List<AnomalyView>();
        var detector = new AnomalyDetector(Settings, "agg", found.Add);
        for (var i = 0; i < 50; i++)
            detector.Settled(new SettledSession(Session($"n{i}", connectMs: 0.1, segments: 10), Edge));
        detector.Settled(new SettledSession(Session("lossy", connectMs: 0.1, segments: 10, retransmissions: 2), Edge));
        var anomaly = Assert.Single(found);
        Assert.Equal("retransmissions", anomaly.Metric);
        Assert.Equal(0.2, anomaly.Value, 6); // 2 of the 10 segments sent
    }

    [Fact]
    public void Clusters_name_the_host_and_the_metric_their_sessions_share_and_leave_strays_as_noise()
    {
        var anomalies = new List<AnomalyView>();
        for (var i = 0; i < 30; i++)
            anomalies.Add(Anomaly($"a{i}", "connect", "redis-benchmark>10.0.0.2:6379", "host-a", "host-b", sigmas: 20 + i, value: 1000 + i, baseline: 0.2));
        for (var i = 0; i < 12; i++)
            anomalies.Add(Anomaly($"r{i}", "retransmissions", "curl>10.0.0.3:80", "host-b", "host-c", sigmas: 8, value: 0.1, baseline: 0));
        anomalies.Add(Anomaly("stray", "duration", "x>10.0.0.9:1", "host-z", "host-y", sigmas: 4, value: 5000, baseline: 100));
        var result = AnomalyClustering.Cluster(anomalies, 1.0, 5);

        Assert.Equal(2, result.Clusters.Count);
        Assert.Equal(1, result.Noise);
        Assert.Equal(43, result.Sessions);
        var first = result.Clusters[0];
        Assert.Equal(30, first.Size);
        Assert.Equal("host-a", first.ClientHost);
        Assert.Equal("host-b", first.ServerHost);
        Assert.Equal(["connect"], first.Metrics);
        Assert.StartsWith("30 sessions from host-a to host-b (redis-benchmark>10.0.0.2:6379): connect +", first.Summary, StringComparison.Ordinal);
        var second = result.Clusters[1];
        Assert.Equal(12, second.Size);
        Assert.Equal("host-c", second.ServerHost);
        Assert.Contains("retransmissions 10% (usually 0%)", second.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void One_fault_on_a_host_seen_on_two_edges_is_one_cluster()
    {
        var anomalies = new List<AnomalyView>();
        for (var i = 0; i < 10; i++)
            anomalies.Add(Anomaly($"a{i}", "retransmissions", "curl>10.0.0.2:80", "host-a", "host-b", sigmas: 8, value: 0.1, baseline: 0));
        for (var i = 0; i < 10; i++)
            anomalies.Add(Anomaly($"c{i}", "retransmissions", "redis-benchmark>10.0.0.2:6379", "host-c", "host-b", sigmas: 8, value: 0.1, baseline: 0));
        var cluster = Assert.Single(AnomalyClustering.Cluster(anomalies, 1.0, 5).Clusters);
        Assert.Equal(20, cluster.Size);
        Assert.Equal("host-b", cluster.ServerHost);
        Assert.Equal("", cluster.ClientHost);
        Assert.Equal(2, cluster.Edges.Count);
    }

    [Fact]
    public void Settings_that_cannot_work_are_refused_by_name()
    {
        var e = Assert.Throws<ArgumentException>(() => (Settings with { Sigmas = 0 }).Validated());
        Assert.Contains("Anomalies:Sigmas", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => (Settings with { ClusterMinSessions = 0 }).Validated());
        Assert.Contains("Anomalies:ClusterMinSessions", e.Message, StringComparison.Ordinal);
    }

    private static AnomalyView Anomaly(string session, string metric, string edge, string clientHost, string serverHost, double sigmas, double value, double baseline) => new()
    {
        Id = $"{session}#{metric}", Kind = "session", Metric = metric, Edge = edge, ClientHost = clientHost, ServerHost = serverHost,
        SessionId = session, UnixMs = 1_700_000_000_000, Value = value, Baseline = baseline, Sigmas = sigmas, Bytes = 100,
    };

    private static SessionView Session(string id, double connectMs, long endMs = 1_700_000_000_000, bool reset = false, uint segments = 0, uint retransmissions = 0) => new()
    {
        Id = id,
        Join = JoinMethod.Isn,
        ConnectMs = connectMs,
        Client = new SessionSide { HostId = "host-a", SegmentsOut = segments, Retransmissions = retransmissions },
        Server = new SessionSide { HostId = "host-b" },
        ClientHost = "host-a",
        ServerHost = "host-b",
        EndUnixMs = endMs,
        Reset = reset ? "client" : "none",
        Closed = false,
    };
}
