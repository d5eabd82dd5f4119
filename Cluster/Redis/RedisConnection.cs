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
        Endpoint = endpoint;
        _logger = logger;
        multiplexer.ConnectionFailed += (_, e) => _logger.LogWarning("Redis {Endpoint} connection lost ({FailureType}); retrying", endpoint, e.FailureType);
        multiplexer.ConnectionRestored += (_, _) => _logger.LogInformation("Redis {Endpoint} connection restored", endpoint);
    }

    public ConnectionMultiplexer Multiplexer { get; }
    public string Endpoint { get; }
    public IDatabase Database => Multiplexer.GetDatabase();

    /// <summary>Redis commands that failed (connection lost, timeout, server error).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Writes that succeeded.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>Connects without waiting for Redis to be up: commands fail (and are counted) until it is.</summary>
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
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        return new RedisConnection(multiplexer, endpoint, logger);
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
