namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// Told of every session a shard settles (latency sketches, edge counters, the live stream,
/// OTLP export, anomaly detection): the one list the shards call, in
/// <see cref="SessionServices.Subscribers"/>. Called on a shard's thread, so several shards
/// call at once: an implementation is thread-safe and quick (it queues anything slow).
/// </summary>
public interface ISessionSubscriber
{
    void Settled(in SettledSession session);
}
