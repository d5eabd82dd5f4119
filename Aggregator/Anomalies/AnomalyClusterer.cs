using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Messages;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Aggregator.Anomalies;

/// <summary>
/// Every <see cref="AnomalySettings.ClusterInterval"/>, clusters the session anomalies of the
/// last <see cref="AnomalySettings.ClusterWindow"/> (every Aggregator's, read from Redis, so
/// one fault's sessions meet whichever Aggregator settled them) and writes the result for
/// <c>/api/anomalies/clusters</c>. Each Aggregator does it; they read the same anomalies, so
/// whichever writes last writes the same clusters give or take the latest arrivals.
/// </summary>
public sealed class AnomalyClusterer(AnomalyStore store, RedisConnection redis, AnomalySettings settings, string memberId, ILogger logger) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private int _clusters;

    /// <summary>Clusters in the last pass.</summary>
    public int Clusters => Volatile.Read(ref _clusters);

    public void Start() => _loop = Task.Run(LoopAsync);

    /// <summary>One pass: read, cluster, write. Public for tests and for the loop.</summary>
    public async Task<AnomalyClusters> RunOnceAsync()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var recent = await store.RecentAsync(now - (long)settings.ClusterWindow.TotalMilliseconds, settings.MaxClustered).ConfigureAwait(false);
        var result = AnomalyClustering.Cluster(recent, settings.ClusterRadius, settings.ClusterMinSessions);
        result.ComputedUnixMs = now;
        result.WindowSeconds = (int)settings.ClusterWindow.TotalSeconds;
        result.Aggregator = memberId;
        // Kept a few passes: a reader between two passes, or after the last Aggregator stopped, still finds the latest.
        await store.SaveClustersAsync(result, settings.ClusterInterval * 3 + settings.ClusterWindow).ConfigureAwait(false);
        Volatile.Write(ref _clusters, result.Clusters.Count);
        return result;
    }

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(settings.ClusterInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                try
                {
                    var result = await RunOnceAsync().ConfigureAwait(false);
                    redis.Succeeded(write: true);
                    if (result.Clusters.Count > 0)
                        logger.LogInformation("Anomaly clusters: {Count} over {Sessions} anomalous sessions; largest: {Summary}", result.Clusters.Count, result.Sessions, result.Clusters[0].Summary);
                }
                catch (Exception e) when (RedisConnection.IsOutage(e))
                {
                    redis.Failed(e, "cluster anomalies");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private int _disposed;

    // The service stops it on the way out and disposes it again with itself.
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
