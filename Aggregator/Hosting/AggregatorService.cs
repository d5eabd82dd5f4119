using FlowMesh.Aggregator.Anomalies;
using FlowMesh.Aggregator.Export;
using FlowMesh.Aggregator.Gateway;
using FlowMesh.Aggregator.Latency;
using FlowMesh.Aggregator.Live;
using FlowMesh.Aggregator.Metrics;
using FlowMesh.Aggregator.Sessions;
using FlowMesh.Cluster;
using FlowMesh.Cluster.Placement;
using FlowMesh.Cluster.Redis;
using FlowMesh.Cluster.Sessions;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Hosting;
using FlowMesh.Kubernetes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Proto;
using Proto.Cluster;
using StackExchange.Redis;

namespace FlowMesh.Aggregator.Hosting;

/// <summary>
/// The Aggregator as a cluster member: hosts the <c>session</c> kind, takes the Nodes'
/// flows through its ingress actor, stores settled sessions in Redis, keeps latency
/// sketches there, exports sessions over OTLP when an endpoint is set, serves the
/// gateway, and publishes its counters every second.
/// </summary>
internal sealed class AggregatorService(ClusterSettings clusterSettings, AggregatorSettings settings, ILoggerFactory loggers, IHostApplicationLifetime lifetime)
    : IHostedService, IAsyncDisposable
{
    private readonly ILogger _logger = loggers.CreateLogger("FlowMesh.Aggregator");
    private readonly AggregatorCounters _counters = new();
    private readonly CancellationTokenSource _stop = new();
    private RedisConnection? _redis;
    private ClusterMember? _member;
    private SessionStore? _store;
    private ClosedFlowStore? _closedFlows;
    private StoredConfirmations? _confirmations;
    private RedisMemoryWatch? _memory;
    private OtlpSessionExporter? _exporter;
    private EdgeCounters? _edgeCounters;
    private LatencyRecorder? _latency;
    private SessionMetrics? _sessionMetrics;
    private ScrapedFigures? _scrapedFigures;
    private LiveEventPublisher? _live;
    private AnomalyStore? _anomalyStore;
    private AnomalyDetector? _anomalies;
    private AnomalyClusterer? _clusterer;
    private GatewayServer? _gateway;
    private SessionRouter? _forward;
    private SessionShards? _shards;
    private GatewayContext? _context;
    private AggregatorFigures? _figures;
    private LossTotals? _losses;
    private Task? _status;
    private ClusterAddresses? _addresses;
    private Task? _kubernetes;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _redis = await RedisConnection.ConnectAsync(clusterSettings.Redis, _logger).ConfigureAwait(false);
        var keys = new RedisKeys(clusterSettings.Name);
        _store = new SessionStore(_redis, keys, settings.Sessions.Ttl, _counters, settings.Sessions.MaxIndexed);
        _closedFlows = new ClosedFlowStore(_redis, keys, settings.Sessions.Ttl, _counters, settings.Sessions.MaxIndexed);
        _memory = new RedisMemoryWatch(_redis, _logger);
        await _memory.SampleAsync().ConfigureAwait(false);
        _edgeCounters = new EdgeCounters(_redis, keys, settings.Sessions.Ttl);
        _live = new LiveEventPublisher(_redis, keys, _logger);
        if (settings.OtlpEndpoint is { } endpoint)
        {
            _exporter = new OtlpSessionExporter(endpoint, settings.ServiceName, _counters);
            _logger.LogInformation("Exporting sessions as traces to {Endpoint} (OTLP/HTTP)", endpoint);
        }
        // The session kind's actors (queries only) read the shards once the member (and its id, which names this member's latency fields) exists.
        SessionShards? shards = null;
        var store = _store;
        var sessionKind = new ClusterKind(ClusterKinds.Session,
            Props.FromProducer(() => new SessionQueryActor(shards!, store, settings.Sessions.Linger, clusterSettings.RequestTimeout)));
        _logger.LogInformation("Joining cluster {Cluster} through Redis {Redis} as an Aggregator", clusterSettings.Name, _redis.Endpoint);
        _member = await ClusterMember.StartMemberAsync(_redis, clusterSettings, "", ClusterKinds.AggregatorRole, [sessionKind], loggers, cancellationToken)
            .ConfigureAwait(false);
        ExpulsionExit.Register(_member, lifetime, _logger);
        _latency = new LatencyRecorder(_redis, keys, _member.System.Id, settings.Sessions.Ttl);
        // Each settled session, once stored, lets its Nodes forget the closed sides they keep for a resend.
        _confirmations = new StoredConfirmations(_member);
        _store.OnStored = _confirmations.Stored;
        // A mid-life side moves to its peer's session through the same routing the Nodes use.
        _forward = new SessionRouter(_member, loggers.CreateLogger("FlowMesh.Sessions"), moving: true);
        var aliases = new TupleAliases(_redis, keys, settings.Sessions.JoinWindow * 4);
        // One registry for /metrics, not prometheus-net's default: that one also exports every .NET meter (Kestrel's, the runtime's) by itself.
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var metrics = Prometheus.Metrics.WithCustomRegistry(registry);
        _sessionMetrics = new SessionMetrics(metrics, settings.Metrics);
        List<ISessionSubscriber> subscribers = [_edgeCounters, _latency, _sessionMetrics, _live];
        if (_exporter is not null)
            subscribers.Add(_exporter);
        _anomalyStore = new AnomalyStore(_redis, keys, settings.Sessions.Ttl, settings.Sessions.MaxIndexed);
        if (settings.Anomalies.Enabled)
        {
            var anomalyStore = _anomalyStore;
            var live = _live;
            _anomalies = new AnomalyDetector(settings.Anomalies, _member.System.Id, a =>
            {
                anomalyStore.Save(a);
                live.Anomaly(a);
            });
            subscribers.Add(_anomalies);
            _clusterer = new AnomalyClusterer(_anomalyStore, _redis, settings.Anomalies, _member.System.Id, _logger);
            _clusterer.Start();
        }
        if (settings.Kubernetes.IsEnabled)
        {
            _addresses = new ClusterAddresses(KubernetesConnection.Open(settings.Kubernetes), settings.Kubernetes, TimeProvider.System,
                loggers.CreateLogger("FlowMesh.Kubernetes"));
            _kubernetes = Task.Run(() => _addresses.RunAsync(_stop.Token), CancellationToken.None);
        }
        var services = new SessionServices(_store, _counters, settings.Sessions, subscribers, aliases)
        {
            Forward = _forward.Deliver, Refused = _confirmations.Refused, Owners = _addresses,
        };
        _shards = shards = new SessionShards(_member.System.Root, services, Math.Max(1, Environment.ProcessorCount));
        // Shards live as long as the system: a batch can only find one stopped while the system stops (then it is counted as undeliverable).
        DeadLetterCounting.Subscribe<ShardFlows>(_member.System, _counters);
        _member.System.Root.SpawnNamed(Props.FromProducer(() => new SessionIngressActor(shards, _counters, _live, _closedFlows)), ClusterKinds.SessionIngressActor);
        _context = new GatewayContext(_member, _latency, _live, clusterSettings.RequestTimeout, settings.Sessions.Ttl, TimeProvider.System,
            settings.Gateway, () => _figures!.Read(), registry);
        _scrapedFigures = new ScrapedFigures(registry, metrics, _context);
        _figures = Figures(_context);
        _losses = new LossTotals(_redis, keys, AggregatorCounterTable.All, _logger);
        _status = Task.Run(() => PublishStatusAsync(keys), CancellationToken.None);
        _logger.LogInformation("FlowMesh Aggregator is member {MemberId} at {Address}", _member.System.Id, _member.System.Address);
        if (settings.Gateway.Enabled)
        {
            _gateway = await GatewayServer.StartAsync(settings.Gateway, _context, loggers, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Gateway listening on {Url} (web view at {Url}/, API under {Url}/api/, OpenAPI at {Url}/openapi/v1.json){Auth}",
                _gateway.Url, _gateway.Url, _gateway.Url, _gateway.Url, settings.Gateway.Token is null ? "" : "; bearer token required");
        }
    }

    /// <summary>The reader of every row of <see cref="AggregatorCounterTable"/>.</summary>
    private AggregatorFigures Figures(GatewayContext gateway)
    {
        var c = _counters;
        return new AggregatorFigures(new Dictionary<string, Func<long>>(StringComparer.Ordinal)
        {
            ["flows_received"] = () => c.FlowsReceived,
            ["sessions_tag"] = () => c.SessionsTag,
            ["sessions_isn"] = () => c.SessionsIsn,
            ["sessions_tuple"] = () => c.SessionsTuple,
            ["sessions_one_sided"] = () => c.SessionsOneSided,
            ["sessions_active"] = () => c.ActiveSessions,
            ["late_joins"] = () => c.LateJoins,
            ["moved_to_peer"] = () => c.MovedToPeer,
            ["ambiguous"] = () => c.Ambiguous,
            ["bytes_mismatch"] = () => c.BytesMismatch,
            ["sessions_incomplete"] = () => c.Incomplete,
            ["sessions_not_stored"] = () => c.NotStored,
            ["flows_unrecorded"] = () => c.FlowsUnrecorded,
            ["sessions_exported"] = () => c.Exported,
            ["spans_dropped"] = () => _exporter?.Dropped ?? 0,
            ["sessions_shed"] = () => c.SessionsShed,
            ["flows_over_session_cap"] = () => c.FlowsOverSessionCap,
            ["edges"] = () => _shards!.Edges.Admitted,
            ["sessions_on_other_edge"] = () => _shards!.Edges.Folded,
            ["metrics_edges"] = () => _sessionMetrics!.AdmittedEdges,
            ["sessions_on_other_metrics_edge"] = () => _sessionMetrics!.Folded,
            ["sessions_host_lost"] = () => c.SessionsHostLost,
            ["flows_resent"] = () => c.ResentFlows,
            ["flows_resent_already_stored"] = () => c.ResentKnown,
            ["flows_undeliverable"] = () => c.UndeliverableFlows,
            ["moved_undelivered"] = () => _forward!.Undelivered,
            ["dead_letters"] = () => c.DeadLetters,
            ["tls_refused"] = () => clusterSettings.Tls?.Refused ?? 0,
            ["redis_failures"] = () => _redis!.Failures,
            ["redis_used_memory"] = () => _memory!.UsedBytes,
            ["redis_maxmemory"] = () => _memory!.MaxBytes,
            ["redis_evicted_keys"] = () => _memory!.EvictedKeys,
            ["latency_values"] = () => _latency!.Values,
            ["latency_sketches_malformed"] = () => gateway.Latency.Malformed,
            ["records_malformed"] = () => gateway.Pager.Malformed,
            ["stream_events_published"] = () => _live!.Published,
            ["stream_events_dropped"] = () => _live!.Dropped + gateway.Live.Dropped,
            ["stream_batches_malformed"] = () => gateway.Live.Malformed,
            ["stream_clients"] = () => gateway.Live.Clients,
            ["stream_refused"] = () => gateway.Live.Refused,
            ["stream_tickets_issued"] = () => gateway.Tickets.Issued,
            ["stream_tickets_refused"] = () => gateway.Tickets.Refused,
            ["requests_limited"] = () => gateway.Refusals.Limited,
            ["requests_unauthorized"] = () => gateway.Refusals.Unauthorized,
            ["requests_host_refused"] = () => gateway.Refusals.HostRefused,
            ["anomalies_connect"] = () => _anomalies?.Found(AnomalyMetric.Connect) ?? 0,
            ["anomalies_duration"] = () => _anomalies?.Found(AnomalyMetric.Duration) ?? 0,
            ["anomalies_rtt"] = () => _anomalies?.Found(AnomalyMetric.Rtt) ?? 0,
            ["anomalies_retransmissions"] = () => _anomalies?.Found(AnomalyMetric.Retransmissions) ?? 0,
            ["anomalies_resets"] = () => _anomalies?.Found(AnomalyMetric.Resets) ?? 0,
            ["anomalies_not_stored"] = () => _anomalyStore!.NotStored,
            ["anomalies_malformed"] = () => _anomalyStore!.Malformed,
            ["anomaly_edges"] = () => _anomalies?.Edges ?? 0,
            ["anomaly_sessions_unjudged"] = () => _anomalies?.EdgesShed ?? 0,
            ["anomaly_clusters"] = () => _clusterer?.Clusters ?? 0,
            ["kubernetes_addresses"] = () => _addresses?.Addresses ?? 0,
            ["kubernetes_services"] = () => _addresses?.Services ?? 0,
            ["kubernetes_errors"] = () => _addresses?.Errors ?? 0,
            ["kubernetes_history_shed"] = () => _addresses?.Shed ?? 0,
        });
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_gateway is not null)
            await _gateway.DisposeAsync().ConfigureAwait(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_status is not null)
            await _status.ConfigureAwait(false);
        if (_kubernetes is not null)
            await _kubernetes.ConfigureAwait(false);
        // The shards' sweeps first: they are what forwards sides, so the flush after them is the last.
        if (_shards is not null)
            await _shards.DisposeAsync().ConfigureAwait(false);
        if (_forward is not null)
            await _forward.FlushAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        // Stored before the member leaves, so the last confirmations still reach the Nodes.
        if (_store is not null)
            await _store.FlushAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        if (_closedFlows is not null)
            await _closedFlows.FlushAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        if (_clusterer is not null)
            await _clusterer.DisposeAsync().ConfigureAwait(false);
        if (_anomalyStore is not null)
            await _anomalyStore.FlushAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        if (_confirmations is not null)
            await _confirmations.DisposeAsync().ConfigureAwait(false);
        if (_member is not null)
            await _member.ShutdownAsync(graceful: true, "aggregator stopping").ConfigureAwait(false);
        if (_edgeCounters is not null)
            await _edgeCounters.FlushAsync().ConfigureAwait(false);
        if (_latency is not null)
            await _latency.FlushAsync().ConfigureAwait(false);
        _logger.LogInformation("Stopped: {Flows} flows in, {Joined} sessions joined, {OneSided} one-sided, {NotStored} not stored",
            _counters.FlowsReceived, _counters.SessionsJoined, _counters.SessionsOneSided, _counters.NotStored);
    }

    /// <summary>The hosts that had a Node at the last look, to tell the shards of the ones that go.</summary>
    private HashSet<string> _nodeHosts = new(StringComparer.Ordinal);

    /// <summary>Tells the shards of every host whose Node has left the cluster (crashed or stopped) since the last look.</summary>
    private void WatchNodeHosts()
    {
        var hosts = _member!.Provider.Registrations.Values.Where(r => r.Role == ClusterKinds.NodeRole).Select(r => r.HostId).ToHashSet(StringComparer.Ordinal);
        foreach (var lost in _nodeHosts.Where(h => !hosts.Contains(h)))
        {
            _logger.LogWarning("Host {Host} has no Node in the cluster any more: its open sides settle without their end", lost);
            _shards!.Broadcast(_member.System.Root, new HostLost(lost));
        }
        _nodeHosts = hosts;
    }

    private async Task PublishStatusAsync(RedisKeys keys)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var lastLog = DateTime.UtcNow;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                WatchNodeHosts();
                _anomalies?.CloseQuietBuckets(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                var figures = _figures!.Read();
                HashEntry[] fields =
                [
                    new("member_id", _member!.System.Id), new("updated_unix_ms", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()),
                    .. figures.Select(f => new HashEntry(f.Spec.Name, f.Value)),
                ];
                try
                {
                    var key = keys.AggregatorStatus(_member.System.Id);
                    await _redis!.Database.HashSetAsync(key, fields).ConfigureAwait(false);
                    await _redis.Database.KeyExpireAsync(key, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                    _redis.Succeeded(write: true);
                }
                catch (Exception e) when (RedisConnection.IsOutage(e))
                {
                    _redis!.Failed(e, "publish the aggregator status");
                }
                var byName = figures.ToDictionary(f => f.Spec.Name, f => f.Value, StringComparer.Ordinal);
                await _losses!.ObserveAsync(name => byName[name]).ConfigureAwait(false);
                await _edgeCounters!.FlushAsync().ConfigureAwait(false);
                await _latency!.FlushAsync().ConfigureAwait(false);
                if (DateTime.UtcNow - lastLog >= TimeSpan.FromSeconds(10))
                {
                    lastLog = DateTime.UtcNow;
                    await _memory!.SampleAsync().ConfigureAwait(false);
                    var c = _counters;
                    _logger.LogInformation("status: flows={Flows} sessions tag={Tag} isn={Isn} tuple={Tuple} oneSided={OneSided} active={Active} notStored={NotStored}",
                        c.FlowsReceived, c.SessionsTag, c.SessionsIsn, c.SessionsTuple, c.SessionsOneSided, c.ActiveSessions, c.NotStored);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private int _disposed;

    // The container disposes the service once as itself and once as the hosted service it also is.
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        _exporter?.Dispose();
        _scrapedFigures?.Dispose();
        if (_shards is not null)
            await _shards.DisposeAsync().ConfigureAwait(false);
        if (_forward is not null)
            await _forward.DisposeAsync().ConfigureAwait(false);
        if (_live is not null)
            await _live.DisposeAsync().ConfigureAwait(false);
        if (_store is not null)
            await _store.DisposeAsync().ConfigureAwait(false);
        if (_closedFlows is not null)
            await _closedFlows.DisposeAsync().ConfigureAwait(false);
        if (_clusterer is not null)
            await _clusterer.DisposeAsync().ConfigureAwait(false);
        if (_anomalyStore is not null)
            await _anomalyStore.DisposeAsync().ConfigureAwait(false);
        if (_confirmations is not null)
            await _confirmations.DisposeAsync().ConfigureAwait(false);
        if (_member is not null)
            await _member.DisposeAsync().ConfigureAwait(false);
        else if (_redis is not null)
            await _redis.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
