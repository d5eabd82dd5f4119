using FlowMesh.Aggregator.Latency;
using FlowMesh.Aggregator.Live;
using FlowMesh.Cluster;
using FlowMesh.Contracts.Cluster;
using Prometheus;
using StackExchange.Redis;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>What the gateway's handlers read from: this Aggregator's cluster member, Redis, counters and streams.</summary>
internal sealed class GatewayContext(ClusterMember member, LatencyRecorder recorder, LiveEventPublisher publisher,
    TimeSpan requestTimeout, TimeSpan retention, TimeProvider time, GatewaySettings settings, Func<IReadOnlyList<(CounterSpec Spec, long Value)>> figures,
    CollectorRegistry registry)
{
    public ClusterMember Member { get; } = member;
    public LatencyRecorder Recorder { get; } = recorder;
    public LiveEventPublisher Publisher { get; } = publisher;
    public LiveEventHub Live { get; } = new(member.Redis, member.Keys, publisher, settings.MaxStreamClients);
    public StreamTicketTable Tickets { get; } = new(settings.TicketLifetime, settings.MaxStreamTickets, time);

    /// <summary>Requests turned away before their handler: unauthorized, over the rate, or to a Host a loopback gateway does not answer to.</summary>
    public GatewayRefusals Refusals { get; } = new();

    /// <summary>The most Redis reads one request may make (<c>Gateway:MaxReadsPerRequest</c>); pages shrink to fit.</summary>
    public int MaxReadsPerRequest { get; } = settings.MaxReadsPerRequest;

    /// <summary>This Aggregator's figures now, each with its row of <see cref="AggregatorCounterTable"/>.</summary>
    public Func<IReadOnlyList<(CounterSpec Spec, long Value)>> Figures { get; } = figures;
    public LatencyReader Latency { get; } = new(member.Redis.Database, member.Keys);
    public RecordPager Pager { get; } = new(member.Redis.Database);
    public GatewayMetrics Metrics { get; } = new(Prometheus.Metrics.WithCustomRegistry(registry));

    /// <summary>What <c>/metrics</c> exports: the service map's series, the gateway's requests and the cluster's figures.</summary>
    public CollectorRegistry Registry { get; } = registry;
    public TimeSpan RequestTimeout { get; } = requestTimeout;

    /// <summary>How far back data is kept (the TTL), so the longest window a read may ask for.</summary>
    public TimeSpan Retention { get; } = retention;

    public TimeProvider Time { get; } = time;
    public IDatabase Db => Member.Redis.Database;
    public RedisKeys Keys => Member.Keys;
    public long NowUnixMs => Time.GetUtcNow().ToUnixTimeMilliseconds();
}
