using Proto;

namespace FlowMesh.Cluster.Placement;

/// <summary>
/// Supervision for actors that own a table of many connections (flow and session shards):
/// a message that throws is counted as undeliverable and the actor carries on with its
/// table. Proto's default restarts the actor, which would empty the table and lose every
/// flow or session of its slice without a count.
/// </summary>
public static class KeepStateOnFailure
{
    public static Props WithKeepStateOnFailure(this Props props, IDeadLetterCounters counters) =>
        props.WithGuardianSupervisorStrategy(new OneForOneStrategy((_, _) =>
        {
            counters.Undeliverable();
            return SupervisorDirective.Resume;
        }, int.MaxValue, null));
}
