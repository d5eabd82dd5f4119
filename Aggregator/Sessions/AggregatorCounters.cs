using FlowMesh.Cluster.Placement;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>What one Aggregator did, written from any thread; published to Redis every second.</summary>
public sealed class AggregatorCounters : IDeadLetterCounters
{
    private long _flowsReceived;
    private long _sessionsTag;
    private long _sessionsIsn;
    private long _sessionsTuple;
    private long _sessionsOneSided;
    private long _lateJoins;
    private long _ambiguous;
    private long _bytesMismatch;
    private long _incomplete;
    private long _notStored;
    private long _flowsUnrecorded;
    private long _exported;
    private long _activeSessions;
    private long _deadLetters;
    private long _undeliverable;
    private long _movedToPeer;
    private long _resentIn;
    private long _sessionsShed;
    private long _hostLost;
    private long _flowsOverCap;
    private long _resentKnown;

    public long FlowsReceived => Interlocked.Read(ref _flowsReceived);
    public long SessionsTag => Interlocked.Read(ref _sessionsTag);
    public long SessionsIsn => Interlocked.Read(ref _sessionsIsn);
    public long SessionsTuple => Interlocked.Read(ref _sessionsTuple);
    public long SessionsOneSided => Interlocked.Read(ref _sessionsOneSided);
    public long SessionsJoined => SessionsTag + SessionsIsn + SessionsTuple;
    /// <summary>A side that arrived after its session had been settled as one-sided.</summary>
    public long LateJoins => Interlocked.Read(ref _lateJoins);
    public long Ambiguous => Interlocked.Read(ref _ambiguous);
    public long BytesMismatch => Interlocked.Read(ref _bytesMismatch);
    public long Incomplete => Interlocked.Read(ref _incomplete);
    /// <summary>Sessions Redis could not take.</summary>
    public long NotStored => Interlocked.Read(ref _notStored);
    /// <summary>Closed flows whose record Redis could not take.</summary>
    public long FlowsUnrecorded => Interlocked.Read(ref _flowsUnrecorded);
    public long Exported => Interlocked.Read(ref _exported);
    public long ActiveSessions => Interlocked.Read(ref _activeSessions);
    public long DeadLetters => Interlocked.Read(ref _deadLetters);
    /// <summary>Flows lost on their way to a session shard (it stopped, or failed on the message).</summary>
    public long UndeliverableFlows => Interlocked.Read(ref _undeliverable);

    /// <summary>Mid-life sides handed from their tuple session to a peer's tag or ISN session (joined there by tuple).</summary>
    public long MovedToPeer => Interlocked.Read(ref _movedToPeer);

    /// <summary>Closed flows a Node sent again (their first Aggregator died, left, or never confirmed them).</summary>
    public long ResentFlows => Interlocked.Read(ref _resentIn);

    /// <summary>Resent flows whose session was already stored as complete (only the confirmation had been lost): nothing stored again.</summary>
    public long ResentKnown => Interlocked.Read(ref _resentKnown);

    public void SideMovedToPeer(int n) => Interlocked.Add(ref _movedToPeer, n);
    public void FlowsResent(int n) => Interlocked.Add(ref _resentIn, n);

    /// <summary>New sessions not held because this Aggregator held <see cref="SessionOptions.MaxInMemory"/> already.</summary>
    public long SessionsShed => Interlocked.Read(ref _sessionsShed);

    /// <summary>Flows left out of a session that held <see cref="SessionOptions.MaxFlowsPerSession"/> already.</summary>
    public long FlowsOverSessionCap => Interlocked.Read(ref _flowsOverCap);

    public void SessionShed() => Interlocked.Increment(ref _sessionsShed);

    /// <summary>Sessions that had an open side on a host whose Node left the cluster (settled without that side's end).</summary>
    public long SessionsHostLost => Interlocked.Read(ref _hostLost);
    public void SessionHostLost() => Interlocked.Increment(ref _hostLost);
    public void FlowOverSessionCap() => Interlocked.Increment(ref _flowsOverCap);
    public void ResentAlreadyStored() => Interlocked.Increment(ref _resentKnown);
    public void FlowsIn(int n) => Interlocked.Add(ref _flowsReceived, n);
    public void SessionStarted() => Interlocked.Increment(ref _activeSessions);
    public void SessionStopped() => Interlocked.Decrement(ref _activeSessions);
    public void LateJoin() => Interlocked.Increment(ref _lateJoins);
    public void SessionsNotStored(int n) => Interlocked.Add(ref _notStored, n);
    public void FlowsNotRecorded(int n) => Interlocked.Add(ref _flowsUnrecorded, n);
    public void SessionExported() => Interlocked.Increment(ref _exported);
    public void DeadLetter() => Interlocked.Increment(ref _deadLetters);
    public void Undeliverable() => Interlocked.Increment(ref _undeliverable);

    public void Settled(SessionView s)
    {
        switch (s.Join)
        {
            case JoinMethod.Tag: Interlocked.Increment(ref _sessionsTag); break;
            case JoinMethod.Isn: Interlocked.Increment(ref _sessionsIsn); break;
            case JoinMethod.Tuple: Interlocked.Increment(ref _sessionsTuple); break;
            default: Interlocked.Increment(ref _sessionsOneSided); break;
        }
        if (s.Ambiguous)
            Interlocked.Increment(ref _ambiguous);
        if (s.BytesMismatch)
            Interlocked.Increment(ref _bytesMismatch);
        if (!s.Complete)
            Interlocked.Increment(ref _incomplete);
    }
}
