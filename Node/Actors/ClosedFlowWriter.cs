using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Google.Protobuf;

namespace FlowMesh.Node.Actors;

/// <summary>
/// Closed flows, kept in Redis for history: flow shards enqueue their view and the
/// shared batch writer stores them (key <c>flow:{host}/{cookie}</c>, indexed by close
/// time); one Redis could not take is counted as unrecorded.
/// </summary>
public sealed class ClosedFlowWriter(RedisConnection redis, RedisKeys keys, TimeSpan ttl, NodeCounters counters) : IAsyncDisposable
{
    private readonly IndexedRecordWriter _writer = new(redis, keys.ClosedFlowIndex, ttl, counters.FlowsNotRecorded, "closed flows");

    public void Enqueue(FlowView view, bool hadSavedState) =>
        _writer.Enqueue(new IndexedRecord(
            keys.ClosedFlow(view.HostId, view.Cookie),
            view.ToByteArray(),
            FlowFilters.WallMs(view, view.ClosedNs),
            ClusterKinds.FlowIdentity(view.HostId, view.Cookie),
            hadSavedState ? keys.FlowState(view.HostId, view.Cookie) : null));

    public Task FlushAsync(TimeSpan limit) => _writer.FlushAsync(limit);

    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}
