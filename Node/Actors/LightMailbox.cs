using Proto;
using Proto.Mailbox;

namespace FlowMesh.Node.Actors;

/// <summary>
/// The mailbox of flow and capture actors. Proto's default mailbox holds two
/// lock-free queues whose first segments take ~1 KB per actor; these locking queues
/// start at a few slots (~390 bytes in all) and measured faster for actors that,
/// like flows, have one or two senders. A Node holds one flow actor per live
/// connection, so this is most of the per-flow memory budget.
/// </summary>
internal static class LightMailbox
{
    public static readonly MailboxProducer Producer = () =>
        new DefaultMailbox(new LockingUnboundedMailboxQueue(2), new LockingUnboundedMailboxQueue(4));

    public static Props WithLightMailbox(this Props props) => props.WithMailbox(Producer);
}
