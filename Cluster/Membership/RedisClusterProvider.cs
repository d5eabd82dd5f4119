using System.Diagnostics;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Proto.Cluster;
using Proto.Diagnostics;
using StackExchange.Redis;

namespace FlowMesh.Cluster.Membership;

/// <summary>
/// Cluster membership kept in Redis: members hold leases they renew by heartbeat,
/// members and clients read the registry every poll interval (and at once when a
/// member announces a join or a leave), and push the result to Proto.Cluster with
/// <see cref="MemberList.UpdateClusterTopology"/>.
///
/// Written here because the seed-node provider of Proto.Cluster 1.8 cannot start
/// clients and can split into two clusters when members start together; Redis gives
/// members and clients one source of truth, which is also the "cluster state in
/// Redis" FlowMesh keeps. <see cref="MembershipView"/> holds the rules that keep a
/// Redis restart from dissolving the cluster.
/// </summary>
public sealed class RedisClusterProvider : IClusterProvider, IMemberDirectory, IDisposable
{
    private static readonly TimeSpan DepartureMemory = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan StaleEntryAge = TimeSpan.FromMinutes(1);

    private readonly RedisConnection _redis;
    private readonly RedisKeys _keys;
    private readonly RedisMembershipOptions _options;
    private readonly string _hostId;
    private readonly string _role;
    private readonly ILogger _logger;
    private readonly MembershipView _view;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private Proto.Cluster.Cluster? _cluster;
    private MemberRegistration? _self;
    private Task? _loop;
    private ChannelMessageQueue? _subscription;
    private volatile IReadOnlyDictionary<string, MemberRegistration> _registrations = new Dictionary<string, MemberRegistration>();

    /// <param name="redis">The process's Redis connection.</param>
    /// <param name="keys">The cluster's key names.</param>
    /// <param name="options">Lease and poll timing.</param>
    /// <param name="hostId">The host a Node captures; empty for Aggregators and clients.</param>
    /// <param name="role">node, aggregator or client (<see cref="ClusterKinds"/>).</param>
    /// <param name="logger">Where joins, leaves and outages are logged.</param>
    public RedisClusterProvider(RedisConnection redis, RedisKeys keys, RedisMembershipOptions options, string hostId, string role, ILogger logger)
    {
        _redis = redis;
        _keys = keys;
        _options = options;
        _hostId = hostId;
        _role = role;
        _logger = logger;
        _view = new MembershipView(options.MemberTtl);
    }

    /// <summary>Raised (once) when this member finds it was stopped longer than its lease: the others have removed it, and it cannot come back under its id.</summary>
    public event Action<string>? Expelled;

    /// <summary>The registrations of the members in this process's view, by member id.</summary>
    public IReadOnlyDictionary<string, MemberRegistration> Registrations => _registrations;

    public async Task StartMemberAsync(Proto.Cluster.Cluster cluster)
    {
        _cluster = cluster;
        var (host, port) = cluster.System.GetAddress();
        _self = new MemberRegistration
        {
            MemberId = cluster.System.Id,
            HostId = _hostId,
            Role = _role,
            Host = host,
            Port = port,
            Kinds = { cluster.GetClusterKinds() },
            StartedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Tls = Proto.Remote.IRemoteExtensions.Remote(cluster.System).Config.UseHttps,
        };
        await SubscribeAsync().ConfigureAwait(false);
        // Keep trying until Redis takes the registration: a member must be in the registry to be in the cluster.
        while (!await RenewAsync().ConfigureAwait(false))
            await Task.Delay(_options.PollInterval, _stop.Token).ConfigureAwait(false);
        _logger.LogInformation("Registered member {MemberId} (host {HostId}, {Address}) in Redis {Endpoint}",
            _self.MemberId, _hostId, $"{host}:{port}", _redis.Endpoint);
        await ReadAsync().ConfigureAwait(false);
        _loop = Task.Run(RunAsync);
    }

    public async Task StartClientAsync(Proto.Cluster.Cluster cluster)
    {
        _cluster = cluster;
        await SubscribeAsync().ConfigureAwait(false);
        await ReadAsync().ConfigureAwait(false);
        _loop = Task.Run(RunAsync);
    }

    public async Task ShutdownAsync(bool graceful)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        if (_subscription is not null)
            await _subscription.UnsubscribeAsync().ConfigureAwait(false);
        if (graceful && _self is not null)
        {
            try
            {
                await _redis.Database.ScriptEvaluateAsync(MembershipScripts.Leave,
                    [_keys.MemberLeases, _keys.MemberRegistrations, _keys.MemberDepartures, _keys.MembershipChannel],
                    [_self.MemberId]).ConfigureAwait(false);
                _redis.Succeeded(write: true);
                _logger.LogInformation("Left the cluster: member {MemberId} removed from Redis", _self.MemberId);
            }
            catch (Exception e) when (RedisConnection.IsOutage(e))
            {
                // Redis is away: our lease simply runs out.
                _redis.Failed(e, "remove this member on leaving");
            }
        }
    }

    public void Dispose()
    {
        _stop.Dispose();
        _wake.Dispose();
    }

    public Task<DiagnosticsEntry[]> GetDiagnostics() => Task.FromResult(new[]
    {
        new DiagnosticsEntry("RedisClusterProvider", "Members", _registrations.Values.Select(r => $"{r.MemberId} {r.Role} {r.HostId} {r.Host}:{r.Port}").ToArray()),
    });

    private async Task SubscribeAsync()
    {
        // Announcements of joins and leaves make the view change at once instead of at the next poll.
        _subscription = await _redis.Multiplexer.GetSubscriber()
            .SubscribeAsync(RedisChannel.Literal(_keys.MembershipChannel)).ConfigureAwait(false);
        _subscription.OnMessage(message =>
        {
            var text = (string?)message.Message ?? "";
            if (text.StartsWith("left:", StringComparison.Ordinal))
            {
                lock (_gate)
                {
                    if (_view.Depart(text[5..], (long)_clock.Elapsed.TotalMilliseconds))
                        PublishTopology();
                }
            }
            Wake();
        });
    }

    private void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0)
                _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // already signalled
        }
    }

    private async Task RunAsync()
    {
        var nextRenewal = _clock.Elapsed + _options.ResolvedHeartbeat;
        while (!_stop.IsCancellationRequested)
        {
            var waitStarted = _clock.Elapsed;
            try
            {
                await _wake.WaitAsync(_options.PollInterval, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            // A wait of one poll interval that lasted a whole lease: the process was stopped
            // (SIGSTOP, a VM paused, a pause of the runtime). Only the wait is timed: Redis
            // calls that hang through an outage are not a freeze (their renewals fail, and no
            // member expires anyone meanwhile). The others have removed this member by now,
            // and Proto.Cluster keeps its id out: it must not renew.
            var gap = _clock.Elapsed - waitStarted;
            if (_self is not null && gap > _options.MemberTtl)
            {
                _logger.LogCritical("This member was stopped for {Gap:F1} s, longer than its lease ({Ttl} s): the cluster has removed it", gap.TotalSeconds, _options.MemberTtl.TotalSeconds);
                Expelled?.Invoke($"stopped for {gap.TotalSeconds:F1} s, longer than its {_options.MemberTtl.TotalSeconds} s lease");
                return;
            }
            if (_self is not null && _clock.Elapsed >= nextRenewal)
            {
                await RenewAsync().ConfigureAwait(false);
                nextRenewal = _clock.Elapsed + _options.ResolvedHeartbeat;
            }
            await ReadAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Renews this member's lease, registering again if Redis lost the entry. False if Redis failed.</summary>
    private async Task<bool> RenewAsync()
    {
        try
        {
            var written = (long)await _redis.Database.ScriptEvaluateAsync(MembershipScripts.Renew,
                [_keys.MemberLeases, _keys.MemberRegistrations],
                [_self!.MemberId, (long)_options.MemberTtl.TotalMilliseconds, _self.ToByteArray()]).ConfigureAwait(false);
            _redis.Succeeded(write: true);
            if (written == 1)
            {
                // First registration, or Redis restarted without our entry: tell the others now.
                await _redis.Database.PublishAsync(RedisChannel.Literal(_keys.MembershipChannel), "joined:" + _self.MemberId).ConfigureAwait(false);
            }
            return true;
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            _redis.Failed(e, "renew this member's lease");
            return false;
        }
    }

    private async Task ReadAsync()
    {
        RedisResult result;
        try
        {
            result = await _redis.Database.ScriptEvaluateAsync(MembershipScripts.Read,
                [_keys.MemberLeases, _keys.MemberRegistrations, _keys.MemberDepartures],
                [(long)DepartureMemory.TotalMilliseconds, (long)StaleEntryAge.TotalMilliseconds]).ConfigureAwait(false);
            _redis.Succeeded();
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            _redis.Failed(e, "read the member registry");
            lock (_gate)
                _view.ReadFailed();
            return;
        }

        var parts = (RedisResult[])result!;
        var leases = new List<(MemberRegistration, long)>();
        var members = (RedisResult[])parts[1]!;
        for (var i = 0; i + 2 < members.Length; i += 3)
        {
            try
            {
                var registration = MemberRegistration.Parser.ParseFrom((byte[])members[i + 2]!);
                leases.Add((registration, long.Parse((string)members[i + 1]!, System.Globalization.CultureInfo.InvariantCulture)));
            }
            catch (InvalidProtocolBufferException e)
            {
                _logger.LogWarning("Ignoring an unreadable registration of member {MemberId}: {Error}", (string?)members[i], e.Message);
            }
        }
        var departed = ((RedisResult[])parts[2]!).Select(r => (string)r!).ToList();

        lock (_gate)
        {
            _view.ApplyRead((long)_clock.Elapsed.TotalMilliseconds, leases, departed);
            PublishTopology();
        }
    }

    /// <summary>Pushes the view to Proto.Cluster (which ignores a topology it already has). Called under the lock.</summary>
    private void PublishTopology()
    {
        var registrations = _view.Members.ToDictionary(r => r.MemberId);
        // A running member is alive whatever Redis says: leaving itself out of its own
        // topology would make Proto.Cluster block it for good.
        if (_self is not null && !_stop.IsCancellationRequested)
            registrations.TryAdd(_self.MemberId, _self);
        _registrations = registrations;
        if (_cluster is null)
            return;
        var members = registrations.Values
            .Select(r => new Member { Id = r.MemberId, Host = r.Host, Port = r.Port, Kinds = { r.Kinds } })
            .ToList();
        _cluster.MemberList.UpdateClusterTopology(members);
    }
}
