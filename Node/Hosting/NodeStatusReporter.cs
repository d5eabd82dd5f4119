using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Google.Protobuf.Reflection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace FlowMesh.Node.Hosting;

/// <summary>
/// Publishes the Node's counters to Redis (a hash per host that expires when the Node
/// is gone) every interval, logs a summary every ten seconds, and warns as soon as a
/// loss counter (<see cref="NodeCounterTable"/>) grows, adding the growth to the cluster's
/// loss totals. A Redis outage is counted and shows as a gap, never a crash.
/// </summary>
internal sealed class NodeStatusReporter(RedisConnection redis, RedisKeys keys, Func<NodeStatus> status, TimeSpan interval, ILogger logger) : IDisposable
{
    private static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(10);
    private readonly LossTotals _losses = new(redis, keys, NodeCounterTable.All, logger);
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public void Start() => _loop = Task.Run(RunAsync);

    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
    }

    public void Dispose() => _stop.Dispose();

    private async Task RunAsync()
    {
        var lastLog = DateTime.UtcNow;
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                var current = status();
                var fields = Fields(current);
                await PublishAsync(current, fields).ConfigureAwait(false);
                var byName = fields.ToDictionary(f => f.Name.ToString(), f => f.Value, StringComparer.Ordinal);
                await _losses.ObserveAsync(name => (long)byName[name]).ConfigureAwait(false);
                if (DateTime.UtcNow - lastLog >= LogEvery)
                {
                    lastLog = DateTime.UtcNow;
                    logger.LogInformation(
                        "status: records={Records} drops={Drops} flowEvents={FlowEvents} flowsActive={Active} opened={Opened} closed={Closed} passivated={Passivated} undeliverable={Undeliverable} redisFailures={RedisFailures}",
                        current.KernelRecords, current.KernelDrops, current.FlowEvents, current.FlowsActive, current.FlowsOpened, current.FlowsClosed,
                        current.FlowsPassivated, current.Undeliverable, current.RedisFailures);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task PublishAsync(NodeStatus current, HashEntry[] fields)
    {
        var key = keys.NodeStatus(current.HostId);
        try
        {
            var batch = redis.Database.CreateBatch();
            var set = batch.HashSetAsync(key, fields);
            var expire = batch.KeyExpireAsync(key, interval * 10);
            var member = batch.SetAddAsync(keys.Nodes, current.HostId);
            batch.Execute();
            await Task.WhenAll(set, expire, member).ConfigureAwait(false);
            redis.Succeeded(write: true);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "publish the node status");
        }
    }

    /// <summary>Every field of the status, named as in the .proto (snake_case), as a Redis hash.</summary>
    internal static HashEntry[] Fields(NodeStatus status)
    {
        var entries = new List<HashEntry>();
        foreach (var field in NodeStatus.Descriptor.Fields.InFieldNumberOrder())
        {
            var value = field.Accessor.GetValue(status);
            entries.Add(field.IsRepeated
                ? new HashEntry(field.Name, string.Join(',', ((System.Collections.IEnumerable)value).Cast<object>()))
                : field.FieldType == FieldType.String
                    ? new HashEntry(field.Name, (string)value)
                    : new HashEntry(field.Name, Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)));
        }
        return [.. entries];
    }
}
