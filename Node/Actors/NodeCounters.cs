using FlowMesh.Cluster.Placement;

namespace FlowMesh.Node.Actors;

/// <summary>
/// Per-stage counters of one Node, written from any thread. Together with the
/// kernel's and the readers' counters they account for every record: delivered to
/// a flow, about a listener, or counted as lost with the reason.
/// </summary>
public sealed class NodeCounters : IDeadLetterCounters
{
    private long _flowEvents;
    private long _listenerEvents;
    private long _socketlessResets;
    private long _flowsActive;
    private long _flowsShed;
    private long _restoring;
    private long _eventsShed;
    private long _flowsOpened;
    private long _flowsClosed;
    private long _flowsPassivated;
    private long _flowsRestored;
    private long _undeliverable;
    private long _deadLetters;
    private long _anomalies;
    private long _stateConflicts;
    private long _tagsSent;
    private long _tagsEchoed;
    private long _tagsReceived;
    private long _tagsForged;
    private long _horizonExpired;
    private long _lateEventsDropped;

    /// <summary>Kernel timestamp to applied, per event.</summary>
    public ApplyDelay ApplyDelay { get; } = new();

    public long FlowEvents => Interlocked.Read(ref _flowEvents);
    public long ListenerEvents => Interlocked.Read(ref _listenerEvents);
    public long SocketlessResets => Interlocked.Read(ref _socketlessResets);
    public long FlowsActive => Interlocked.Read(ref _flowsActive);
    /// <summary>Flows not followed because the Node already followed <see cref="FlowOptions.MaxLive"/>.</summary>
    public long FlowsShed => Interlocked.Read(ref _flowsShed);
    /// <summary>Events of shed flows, dropped.</summary>
    public long EventsShedCount => Interlocked.Read(ref _eventsShed);
    public long FlowsOpened => Interlocked.Read(ref _flowsOpened);
    public long FlowsClosed => Interlocked.Read(ref _flowsClosed);
    public long FlowsPassivated => Interlocked.Read(ref _flowsPassivated);
    public long FlowsRestored => Interlocked.Read(ref _flowsRestored);
    public long Undeliverable => Interlocked.Read(ref _undeliverable);
    public long DeadLetters => Interlocked.Read(ref _deadLetters);
    public long Anomalies => Interlocked.Read(ref _anomalies);
    public long StateConflicts => Interlocked.Read(ref _stateConflicts);
    /// <summary>Closed client flows whose SYN carried a trace tag.</summary>
    public long TagsSent => Interlocked.Read(ref _tagsSent);
    /// <summary>Closed client flows whose SYN-ACK brought the tag back (the peer is instrumented and the path kept the option).</summary>
    public long TagsEchoed => Interlocked.Read(ref _tagsEchoed);
    /// <summary>Closed server flows whose SYN carried a tag.</summary>
    public long TagsReceived => Interlocked.Read(ref _tagsReceived);

    /// <summary>Closed server flows whose tag the fleet had not signed for them (forged or replayed).</summary>
    public long TagsForged => Interlocked.Read(ref _tagsForged);
    /// <summary>Events applied before the ordering horizon had passed them, because a stalled CPU held it past its bound.</summary>
    public long HorizonExpired => Interlocked.Read(ref _horizonExpired);
    /// <summary>Events that came after their flow had closed and left memory (past the linger): not applied, since the flow's record and session are settled.</summary>
    public long LateEventsDropped => Interlocked.Read(ref _lateEventsDropped);

    public void FlowEventsApplied(int n) => Interlocked.Add(ref _flowEvents, n);
    public void ListenerEvent() => Interlocked.Increment(ref _listenerEvents);
    public void SocketlessReset() => Interlocked.Increment(ref _socketlessResets);
    public void FlowStarted() => Interlocked.Increment(ref _flowsActive);
    public void FlowStopped() => Interlocked.Decrement(ref _flowsActive);
    public void FlowShed() => Interlocked.Increment(ref _flowsShed);

    /// <summary>Flows whose saved state is being read back, in every shard (they count toward the live-flow cap).</summary>
    public long Restoring => Interlocked.Read(ref _restoring);
    public void RestoreStarted() => Interlocked.Increment(ref _restoring);
    public void RestoreEnded() => Interlocked.Decrement(ref _restoring);
    public void EventsShed(int n) => Interlocked.Add(ref _eventsShed, n);
    public void FlowOpened() => Interlocked.Increment(ref _flowsOpened);
    public void FlowClosed() => Interlocked.Increment(ref _flowsClosed);
    public void FlowPassivated() => Interlocked.Increment(ref _flowsPassivated);
    public void FlowRestored() => Interlocked.Increment(ref _flowsRestored);
    public void UndeliverableMessage() => Interlocked.Increment(ref _undeliverable);

    void IDeadLetterCounters.Undeliverable() => UndeliverableMessage();
    public void DeadLetter() => Interlocked.Increment(ref _deadLetters);
    public void Anomaly(long n) => Interlocked.Add(ref _anomalies, n);
    public void StateConflict() => Interlocked.Increment(ref _stateConflicts);
    public void LateEvents(int events) => Interlocked.Add(ref _lateEventsDropped, events);
    public void HorizonWaitExpired(int events) => Interlocked.Add(ref _horizonExpired, events);

    /// <summary>Counts a closed flow's trace tag outcome.</summary>
    public void TagOutcome(bool sent, bool echoed, bool received, bool forged)
    {
        if (forged)
            Interlocked.Increment(ref _tagsForged);
        if (sent)
            Interlocked.Increment(ref _tagsSent);
        if (echoed)
            Interlocked.Increment(ref _tagsEchoed);
        if (received)
            Interlocked.Increment(ref _tagsReceived);
    }
}
