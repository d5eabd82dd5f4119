using System.Threading.Channels;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Google.Protobuf;
using StackExchange.Redis;

namespace FlowMesh.Aggregator.Live;

/// <summary>
/// The gateway's side of live streams: subscribed to the cluster's event channel while
/// at least one client streams (so Aggregators publish only then), and hands every
/// event to each client's own bounded queue. A client too slow to keep up loses events,
/// counted in <see cref="Dropped"/>, rather than slowing the others. At most
/// <paramref name="maxClients"/> stream at once; others are refused and counted.
/// </summary>
public sealed class LiveEventHub(RedisConnection redis, RedisKeys keys, LiveEventPublisher? localPublisher, int maxClients)
{
    private const int ClientQueueCapacity = 10_000;

    private readonly RedisChannel _channel = RedisChannel.Literal(keys.EventChannel);
    private readonly Lock _lock = new();
    private readonly List<Channel<LiveEvent>> _clients = [];
    // Subscribe and unsubscribe run one after the other, each checking whether it is still wanted.
    private Task _changes = Task.CompletedTask;
    private bool _subscribed;
    private long _dropped;
    private long _malformed;
    private long _refused;

    /// <summary>Clients refused because <c>maxClients</c> were streaming already.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public long Dropped => Interlocked.Read(ref _dropped);
    public long Malformed => Interlocked.Read(ref _malformed);

    public int Clients
    {
        get
        {
            lock (_lock)
                return _clients.Count;
        }
    }

    /// <summary>
    /// A new client's queue, subscribed to Redis before this returns, so no event published
    /// afterwards is missed; null (and counted) when <c>maxClients</c> stream already.
    /// </summary>
    public async Task<ChannelReader<LiveEvent>?> JoinAsync()
    {
        var queue = Channel.CreateBounded<LiveEvent>(new BoundedChannelOptions(ClientQueueCapacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        lock (_lock)
        {
            if (_clients.Count >= maxClients)
            {
                Interlocked.Increment(ref _refused);
                return null;
            }
            _clients.Add(queue);
        }
        try
        {
            await Change().ConfigureAwait(false);
        }
        catch
        {
            await LeaveAsync(queue.Reader).ConfigureAwait(false);
            throw;
        }
        localPublisher?.Listen();
        return queue.Reader;
    }

    public async Task LeaveAsync(ChannelReader<LiveEvent> reader)
    {
        lock (_lock)
            _clients.RemoveAll(c => c.Reader == reader);
        try
        {
            await Change().ConfigureAwait(false);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "leave the live event channel");
        }
    }

    /// <summary>Brings the subscription in line with the clients: subscribed while there is one.</summary>
    private Task Change()
    {
        lock (_lock)
        {
            _changes = _changes.ContinueWith(_ => ApplyAsync(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
            return _changes;
        }
    }

    private async Task ApplyAsync()
    {
        var wanted = Clients > 0;
        if (wanted == _subscribed)
            return;
        var subscriber = redis.Multiplexer.GetSubscriber();
        if (wanted)
            await subscriber.SubscribeAsync(_channel, (_, message) => Dispatch(message)).ConfigureAwait(false);
        else
            await subscriber.UnsubscribeAsync(_channel).ConfigureAwait(false);
        _subscribed = wanted;
    }

    private void Dispatch(RedisValue message)
    {
        LiveEventBatch batch;
        try
        {
            batch = LiveEventBatch.Parser.ParseFrom((byte[])message!);
        }
        catch (InvalidProtocolBufferException)
        {
            Interlocked.Increment(ref _malformed);
            return;
        }
        lock (_lock)
        {
            foreach (var client in _clients)
            {
                foreach (var e in batch.Events)
                {
                    if (!client.Writer.TryWrite(e))
                        Interlocked.Increment(ref _dropped);
                }
            }
        }
    }
}
