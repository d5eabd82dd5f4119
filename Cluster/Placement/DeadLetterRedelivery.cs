using Proto;

namespace FlowMesh.Cluster.Placement;

/// <summary>A local message that may be sent again to a fresh activation when it found its actor stopped.</summary>
public interface IRedeliverable
{
    /// <summary>Times it was sent again.</summary>
    int Redeliveries { get; set; }
}

/// <summary>What a member counts about dead letters and the messages it sends again.</summary>
public interface IDeadLetterCounters
{
    void DeadLetter();
    void Redelivery();
    void Undeliverable();
}

/// <summary>
/// Counts every dead letter, and sends a message of one type that
/// found its virtual actor stopped (it passivated or went idle between the lookup and
/// the send) again, to a fresh activation, at most <see cref="MaxRedeliveries"/> times;
/// past that, or while the system shuts down, it is counted as undeliverable.
/// </summary>
public static class DeadLetterRedelivery
{
    public const int MaxRedeliveries = 2;

    /// <param name="system">The member's actor system.</param>
    /// <param name="reactivate">The fresh actor for a message whose actor (the dead PID) stopped.</param>
    /// <param name="counters">Where dead letters, redeliveries and losses are counted.</param>
    public static void Subscribe<T>(ActorSystem system, Func<T, PID, PID> reactivate, IDeadLetterCounters counters) where T : class, IRedeliverable =>
        system.EventStream.Subscribe<DeadLetterEvent>(dead =>
        {
            counters.DeadLetter();
            if (dead.Message is not T message)
                return;
            if (message.Redeliveries >= MaxRedeliveries || system.Shutdown.IsCancellationRequested)
            {
                counters.Undeliverable();
                return;
            }
            message.Redeliveries++;
            counters.Redelivery();
            system.Root.Send(reactivate(message, dead.Pid), message);
        });
}
