using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace FlowMesh.Cluster.Redis;

/// <summary>
/// The process's one connection to Redis. StackExchange.Redis reconnects on its own
/// (also after a Redis restart); this wrapper counts what failed meanwhile and logs
/// the start and end of an outage once, not every failed command.
/// </summary>
public sealed class RedisConnection : IAsyncDisposable
{
    private readonly ILogger _logger;
    private long _failures;
    private long _writes;
    private int _inOutage;

    private RedisConnection(ConnectionMultiplexer multiplexer, string endpoint, ILogger logger)
    {
        Multiplexer = multiplexer;
        // What logs and errors show: the configuration without its password.
        Endpoint = ConfigurationOptions.Parse(endpoint).ToString(includePassword: false);
        _logger = logger;
        multiplexer.ConnectionFailed += (_, e) => _logger.LogWarning("Redis {Endpoint} connection lost ({FailureType}); retrying", Endpoint, e.FailureType);
        multiplexer.ConnectionRestored += (_, _) => _logger.LogInformation("Redis {Endpoint} connection restored", Endpoint);
    }

    public ConnectionMultiplexer Multiplexer { get; }
    public string Endpoint { get; }
    public IDatabase Database => Multiplexer.GetDatabase();

    /// <summary>Redis commands that failed (connection lost, timeout, server error).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Writes that succeeded.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>
    /// Connects without waiting for Redis to be up: commands fail (and are counted) until it
    /// is. A Redis that answers but refuses the credentials is a
    /// <see cref="RedisCredentialsException"/>: that never mends by waiting.
    /// </summary>
    public static async Task<RedisConnection> ConnectAsync(string endpoint, ILogger logger)
    {
        var options = ConfigurationOptions.Parse(endpoint);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.SyncTimeout = 2000;
        options.AsyncTimeout = 2000;
        options.KeepAlive = 5;
        options.ReconnectRetryPolicy = new LinearRetry(500);
        options.ClientName = "flowmesh";
        var refused = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnFailed(object? sender, ConnectionFailedEventArgs e)
        {
            if (e.FailureType == ConnectionFailureType.AuthenticationFailure)
                refused.TrySetResult("authentication failed");
        }
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        multiplexer.ConnectionFailed += OnFailed;
        var connection = new RedisConnection(multiplexer, endpoint, logger);
        try
        {
            var ping = multiplexer.GetDatabase().PingAsync();
            var first = await Task.WhenAny(ping, refused.Task, Task.Delay(TimeSpan.FromSeconds(3))).ConfigureAwait(false);
            // A refused handshake shows as the event, or inside the PING's failure (a timeout whose cause it was), in either order.
            if (first == ping && ping.IsFaulted)
                await Task.WhenAny(refused.Task, Task.Delay(TimeSpan.FromMilliseconds(500))).ConfigureAwait(false);
            string? why = refused.Task.IsCompleted ? refused.Task.Result : null;
            if (why is null && ping.IsFaulted && CredentialError(ping.Exception!) is { } error)
                why = error;
            if (why is not null)
            {
                await multiplexer.DisposeAsync().ConfigureAwait(false);
                throw new RedisCredentialsException($"Redis {connection.Endpoint} refused FlowMesh's credentials ({why}); put its password in Cluster:Redis "
                    + "(FLOWMESH_CLUSTER__REDIS, --redis), e.g. redis:6379,password=SECRET (or user=NAME,password=SECRET for an ACL user)");
            }
        }
        finally
        {
            multiplexer.ConnectionFailed -= OnFailed;
        }
        return connection;
    }

    /// <summary>The reason, if anything in <paramref name="error"/>'s chain says Redis refused the credentials.</summary>
    private static string? CredentialError(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is AggregateException { InnerException: { } inner } && inner != e)
                continue;
            if (e is RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure })
                return "authentication failed";
            if (e is RedisServerException && (e.Message.StartsWith("NOAUTH", StringComparison.Ordinal) || e.Message.StartsWith("WRONGPASS", StringComparison.Ordinal)))
                return e.Message;
            if (e.Message.Contains("AuthenticationFailure", StringComparison.Ordinal))
                return "authentication failed";
        }
        return null;
    }

    /// <summary>Records a successful command (ends an outage, if one was on).</summary>
    public void Succeeded(bool write = false)
    {
        if (write)
            Interlocked.Increment(ref _writes);
        if (Interlocked.Exchange(ref _inOutage, 0) == 1)
            _logger.LogInformation("Redis {Endpoint} answers again ({Failures} failed commands so far)", Endpoint, Failures);
    }

    /// <summary>Records a failed command; logs the first failure of an outage.</summary>
    public void Failed(Exception error, string what)
    {
        Interlocked.Increment(ref _failures);
        if (Interlocked.Exchange(ref _inOutage, 1) == 0)
            _logger.LogWarning("Redis {Endpoint} failed to {What}: {Error}; counting failures until it answers", Endpoint, what, error.Message);
    }

    /// <summary>True for the exceptions a Redis outage produces (as opposed to bugs).</summary>
    public static bool IsOutage(Exception e) => e is RedisException or TimeoutException or ObjectDisposedException;

    public async ValueTask DisposeAsync() => await Multiplexer.DisposeAsync().ConfigureAwait(false);
}
