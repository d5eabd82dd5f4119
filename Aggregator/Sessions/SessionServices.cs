using FlowMesh.Contracts.Messages;
using FlowMesh.Kubernetes;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>What every session shard of an Aggregator shares.</summary>
/// <param name="Store">Where settled and live sessions are written.</param>
/// <param name="Counters">This Aggregator's counters.</param>
/// <param name="Options">Session timing and bounds.</param>
/// <param name="Subscribers">Told of every settled session, in this order (see <see cref="ISessionSubscriber"/>).</param>
/// <param name="Aliases">Where one-sided sessions publish their tuple for a mid-life peer (null: no tuple hand-over).</param>
public sealed record SessionServices(SessionStore Store, AggregatorCounters Counters, SessionOptions Options,
    IReadOnlyList<ISessionSubscriber> Subscribers, TupleAliases? Aliases = null)
{
    /// <summary>The edges this Aggregator keeps series for (<see cref="SessionOptions.MaxEdges"/>).</summary>
    public EdgeCap Edges { get; } = new(Options.MaxEdges);

    /// <summary>Told each closed flow a shard refuses (a cap): its record is stored and its session never will be, so its Node may forget it rather than resend it.</summary>
    public Action<FlowView>? Refused { get; set; }

    /// <summary>Hands a flow to the session of its (pinned) key, on whichever Aggregator owns it: how a mid-life side joins its peer.</summary>
    public Action<FlowView>? Forward { get; set; }

    /// <summary>Who owned an address when, from the Kubernetes API; null outside Kubernetes.</summary>
    public IAddressOwners? Owners { get; set; }
}
