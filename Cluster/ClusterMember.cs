using FlowMesh.Cluster.Membership;
using FlowMesh.Cluster.Placement;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Microsoft.Extensions.Logging;
using Proto;
using Proto.Cluster;
using Proto.Remote;
using Proto.Remote.GrpcNet;

namespace FlowMesh.Cluster;

/// <summary>
/// One process's place in the FlowMesh cluster: its actor system with remote and
/// cluster started, its Redis connection, the membership provider and the placement.
/// Nodes and Aggregators start as members (hosting kinds), tools and gateways as clients.
/// </summary>
public sealed class ClusterMember : IAsyncDisposable
{
    private readonly CancellationTokenSource _expelled = new();

    private ClusterMember(ActorSystem system, RedisConnection redis, RedisKeys keys, RedisClusterProvider provider, HostAffinityLookup lookup)
    {
        System = system;
        Redis = redis;
        Keys = keys;
        Provider = provider;
        Lookup = lookup;
        provider.Expelled += Expel;
        system.EventStream.Subscribe<MemberBlocked>(b =>
        {
            if (b.MemberId == system.Id)
                Expel($"the cluster has blocked this member ({b.Reason})");
        });
    }

    /// <summary>
    /// Cancelled when this member is out of the cluster for good without having left: it
    /// was stopped (frozen, or a pause) longer than its lease and the others removed it, or
    /// Proto.Cluster blocked it. Its id can never come back; the process must start again
    /// as a new member (the Node and the Aggregator exit, so their supervisor restarts them).
    /// </summary>
    public CancellationToken Expelled => _expelled.Token;

    /// <summary>Why <see cref="Expelled"/> was cancelled.</summary>
    public string? ExpelledBecause { get; private set; }

    private void Expel(string why)
    {
        lock (_expelled)
        {
            if (_expelled.IsCancellationRequested)
                return;
            ExpelledBecause = why;
        }
        _ = Task.Run(_expelled.Cancel);
    }

    public ActorSystem System { get; }
    public Proto.Cluster.Cluster Cluster => System.Cluster();
    public RedisConnection Redis { get; }
    public RedisKeys Keys { get; }
    public RedisClusterProvider Provider { get; }
    public HostAffinityLookup Lookup { get; }

    /// <summary>Starts a member hosting <paramref name="kinds"/> and returns once it is in the cluster.</summary>
    /// <param name="redis">The process's Redis connection (<see cref="RedisConnection.ConnectAsync"/>); disposed with the member.</param>
    /// <param name="settings">Where to listen, how long leases last.</param>
    /// <param name="hostId">The host this member captures (Nodes), or empty.</param>
    /// <param name="role">node or aggregator.</param>
    /// <param name="kinds">The virtual actor kinds it hosts.</param>
    /// <param name="loggers">Logging for FlowMesh and Proto.Actor.</param>
    /// <param name="cancellation">Gives up joining (Redis never answering, say).</param>
    public static Task<ClusterMember> StartMemberAsync(RedisConnection redis, ClusterSettings settings, string hostId, string role, IReadOnlyList<ClusterKind> kinds,
        ILoggerFactory loggers, CancellationToken cancellation = default) =>
        StartAsync(redis, settings, hostId, role, kinds, loggers, client: false, cancellation);

    /// <summary>Starts a client: it can reach any virtual actor but hosts none.</summary>
    public static async Task<ClusterMember> StartClientAsync(ClusterSettings settings, ILoggerFactory loggers, CancellationToken cancellation = default)
    {
        var redis = await RedisConnection.ConnectAsync(settings.Redis, loggers.CreateLogger("FlowMesh.Cluster")).ConfigureAwait(false);
        return await StartAsync(redis, settings, "", ClusterKinds.ClientRole, [], loggers, client: true, cancellation).ConfigureAwait(false);
    }

    private static async Task<ClusterMember> StartAsync(RedisConnection redis, ClusterSettings settings, string hostId, string role, IReadOnlyList<ClusterKind> kinds,
        ILoggerFactory loggers, bool client, CancellationToken cancellation)
    {
        Log.SetLoggerFactory(loggers);
        var logger = loggers.CreateLogger("FlowMesh.Cluster");
        var keys = new RedisKeys(settings.Name);
        var provider = new RedisClusterProvider(redis, keys, new RedisMembershipOptions { MemberTtl = settings.MemberTtl }, hostId, role, logger);
        var lookup = new HostAffinityLookup(provider);

        var remote = RemoteConfig.BindTo(settings.BindAddress, settings.Port)
            .WithProtoMessages(FlowsReflection.Descriptor, ClusterReflection.Descriptor, SessionsReflection.Descriptor);
        if (!string.IsNullOrEmpty(settings.AdvertisedAddress))
            remote = remote.WithAdvertisedHost(settings.AdvertisedAddress);
        if (settings.Tls is { } tls)
        {
            remote = tls.Apply(remote);
            if (!client)
                logger.LogInformation("Cluster transport: mutual TLS, certificate {Subject} valid until {NotAfter:u}", tls.Certificate.Subject, tls.Certificate.NotAfter.ToUniversalTime());
        }
        else if (!client)
        {
            logger.LogWarning("Cluster transport: plaintext, on loopback only (set Cluster:Tls:Ca, Cert and Key for mutual TLS)");
        }

        var clusterConfig = ClusterConfig.Setup(settings.Name, provider, lookup)
            .WithClusterKinds(kinds.ToArray())
            .WithActorRequestTimeout(settings.RequestTimeout)
            // No expiry by gossip heartbeat (zero, Proto's default): the Redis leases remove a
            // crashed member. With one, a member frozen past it (SIGSTOP, a paused VM) found every
            // other member's heartbeat expired the moment it resumed, blocked them all, and told
            // each that connected it was blocked, so every member left the cluster (measured).
            .WithHeartbeatExpiration(TimeSpan.Zero)
            .WithExitOnShutdown(false);

        var system = new ActorSystem(ActorSystemConfig.Setup().WithDeadLetterThrottleInterval(TimeSpan.FromSeconds(10)))
            .WithRemote(remote)
            .WithCluster(clusterConfig);

        try
        {
            if (client)
                await system.Cluster().StartClientAsync().WaitAsync(cancellation).ConfigureAwait(false);
            else
                await system.Cluster().StartMemberAsync().WaitAsync(cancellation).ConfigureAwait(false);
        }
        catch
        {
            await system.DisposeAsync().ConfigureAwait(false);
            provider.Dispose();
            await redis.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        if (client && settings.Tls is null && provider.Registrations.Values.Any(r => r.Tls))
        {
            await system.DisposeAsync().ConfigureAwait(false);
            provider.Dispose();
            await redis.DisposeAsync().ConfigureAwait(false);
            throw new Transport.ClusterTlsException($"cluster {settings.Name}'s members speak mutual TLS: give this command the cluster's CA and a member certificate "
                + "(--tls-ca, --tls-cert, --tls-key, or FLOWMESH_CLUSTER__TLS__CA, __CERT, __KEY)");
        }
        return new ClusterMember(system, redis, keys, provider, lookup);
    }

    /// <summary>Leaves the cluster (announcing it, when graceful) and stops the actor system.</summary>
    public async Task ShutdownAsync(bool graceful = true, string reason = "shutting down")
    {
        await Cluster.ShutdownAsync(graceful, reason).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!System.Shutdown.IsCancellationRequested)
            await ShutdownAsync(graceful: true).ConfigureAwait(false);
        Provider.Dispose();
        await Redis.DisposeAsync().ConfigureAwait(false);
    }
}
