using Proto;

namespace FlowMesh.Cluster.Placement;

/// <summary>What a member counts about dead letters and the messages they lost.</summary>
public interface IDeadLetterCounters
{
    void DeadLetter();
    void Undeliverable();
}

/// <summary>
/// Counts every dead letter, and, for the member's own hand-off messages (events or flows
/// for a shard), counts the loss: a shard lives as long as its member, so such a letter only
/// dies while the member stops, and what it carried is not applied.
/// </summary>
public static class DeadLetterCounting
{
    public static void Subscribe<THandOff>(ActorSystem system, IDeadLetterCounters counters) where THandOff : class =>
        system.EventStream.Subscribe<DeadLetterEvent>(dead =>
        {
            counters.DeadLetter();
            if (dead.Message is THandOff)
                counters.Undeliverable();
        });
}
