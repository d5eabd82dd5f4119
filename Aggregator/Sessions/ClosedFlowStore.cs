using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Google.Protobuf;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// Closed flows, kept in Redis for history (key <c>flow:{host}/{cookie}</c>, indexed by
/// close time, as long as sessions): the Aggregator that takes a closed view for its
/// session stores it, steps and all, so the Node (on every host, where cost matters)
/// writes no per-flow record. One Redis could not take is counted as unrecorded.
/// </summary>
public sealed class ClosedFlowStore(RedisConnection redis, RedisKeys keys, TimeSpan ttl, AggregatorCounters counters, long maxIndexed = 1_000_000) : IAsyncDisposable
{
    private readonly IndexedRecordWriter _writer = new(redis, keys.ClosedFlowIndex, ttl, counters.FlowsNotRecorded, "closed flows", maxIndexed: maxIndexed);

    public void Save(FlowView view) =>
        _writer.Enqueue(new IndexedRecord(
            keys.ClosedFlow(view.HostId, view.Cookie),
            view.ToByteArray(),
            FlowFilters.WallMs(view, view.ClosedNs),
            ClusterKinds.FlowIdentity(view.HostId, view.Cookie)));

    public Task FlushAsync(TimeSpan limit) => _writer.FlushAsync(limit);

    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}
