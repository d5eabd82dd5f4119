using Proto;
using Proto.Mailbox;

namespace FlowMesh.Node.Actors;

/// <summary>
/// The mailbox of capture actors. Proto's default mailbox holds two lock-free queues
/// whose first segments take ~1 KB per actor; these locking queues start at a few
/// slots (~390 bytes in all) and measured faster for actors with one or two senders
/// (when each connection was an actor, this was most of the per-flow memory).
/// </summary>
internal static class LightMailbox
{
    public static readonly MailboxProducer Producer = () =>
        new DefaultMailbox(new LockingUnboundedMailboxQueue(2), new LockingUnboundedMailboxQueue(4));

    public static Props WithLightMailbox(this Props props) => props.WithMailbox(Producer);
}
