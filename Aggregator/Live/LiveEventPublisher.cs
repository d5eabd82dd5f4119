using FlowMesh.Aggregator.Sessions;
using System.Threading.Channels;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace FlowMesh.Aggregator.Live;

/// <summary>
/// Publishes this Aggregator's flow and session events on the cluster's Redis channel,
/// in batches of up to 100 ms, but only while some gateway listens (checked once a
/// second with PUBSUB NUMSUB): with nobody streaming, an event costs one volatile read.
/// Events that find the queue full are dropped and counted, never block the sessions.
/// </summary>
public sealed class LiveEventPublisher : ISessionSubscriber, IAsyncDisposable
{
    private const int QueueCapacity = 50_000;
    private const int MaxBatch = 500;
    private static readonly TimeSpan BatchDelay = TimeSpan.FromMilliseconds(100);

    private readonly RedisConnection _redis;
    private readonly RedisChannel _channel;
    private readonly string _channelName;
    private readonly ILogger _logger;
    private readonly Channel<LiveEvent> _queue = Channel.CreateBounded<LiveEvent>(new BoundedChannelOptions(QueueCapacity)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _publishing;
    private readonly Task _watching;
    private volatile bool _listened;
    private long _published;
    private long _dropped;

    public LiveEventPublisher(RedisConnection redis, RedisKeys keys, ILogger logger)
    {
        _redis = redis;
        _channelName = keys.EventChannel;
        _channel = RedisChannel.Literal(_channelName);
        _logger = logger;
        _publishing = Task.Run(PublishAsync);
        _watching = Task.Run(WatchListenersAsync);
    }

    public long Published => Interlocked.Read(ref _published);

    /// <summary>Events lost to a full queue or a failed publish.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Flow(FlowView flow)
    {
        if (_listened)
            Enqueue(new LiveEvent { Flow = flow });
    }

    private void Session(SessionView session)
    {
        if (_listened)
            Enqueue(new LiveEvent { Session = session });
    }

    public void Anomaly(AnomalyView anomaly)
    {
        if (_listened)
            Enqueue(new LiveEvent { Anomaly = anomaly });
    }

    public void Settled(in SettledSession session)
    {
        if (session.IsNews)
            Session(session.View);
    }

    /// <summary>Starts publishing at once, without waiting for the next listener check (a gateway in this process just got a client).</summary>
    public void Listen() => _listened = true;

    private void Enqueue(LiveEvent e)
    {
        if (!_queue.Writer.TryWrite(e))
            Interlocked.Increment(ref _dropped);
    }

    private async Task WatchListenersAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            do
            {
                try
                {
                    var reply = (RedisResult[])(await _redis.Database.ExecuteAsync("PUBSUB", "NUMSUB", _channelName).ConfigureAwait(false))!;
                    _listened = reply.Length == 2 && (long)reply[1] > 0;
                }
                catch (Exception e) when (RedisConnection.IsOutage(e))
                {
                    _redis.Failed(e, "count live stream listeners");
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task PublishAsync()
    {
        var reader = _queue.Reader;
        var batch = new LiveEventBatch();
        try
        {
            while (await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                // The first event waits a little for company: one message per 100 ms, not per
                // event. A full batch already waiting goes at once: the delay must not cap the rate.
                if (reader.Count < MaxBatch)
                    await Task.Delay(BatchDelay, _stop.Token).ConfigureAwait(false);
                while (batch.Events.Count < MaxBatch && reader.TryRead(out var e))
                    batch.Events.Add(e);
                try
                {
                    await _redis.Multiplexer.GetSubscriber().PublishAsync(_channel, batch.ToByteArray()).ConfigureAwait(false);
                    Interlocked.Add(ref _published, batch.Events.Count);
                }
                catch (Exception e) when (RedisConnection.IsOutage(e))
                {
                    Interlocked.Add(ref _dropped, batch.Events.Count);
                    _redis.Failed(e, "publish live events");
                }
                batch.Events.Clear();
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Live event publishing stopped");
        }
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_publishing, _watching).ConfigureAwait(false);
        _stop.Dispose();
    }
}
