namespace FlowMesh.Aggregator.Sessions;

/// <summary>What became of a session's trace tag on its way.</summary>
public enum TagOutcome
{
    /// <summary>The client wrote no tag (injection off on its host, or the client is outside the fleet).</summary>
    NotSent,

    /// <summary>The SYN-ACK brought the tag back: the path kept the option both ways and the peer is instrumented.</summary>
    Survived,

    /// <summary>The server's Node saw no tag in the SYN: a middlebox removed the option on the way there.</summary>
    StrippedOnPath,

    /// <summary>The server read the tag but its echo never reached the client: removed on the way back.</summary>
    EchoStripped,

    /// <summary>No echo and no server side anywhere in the fleet: the peer runs no Node (or the path stripped it; nothing tells which).</summary>
    PeerNotInstrumented,

    /// <summary>The handshake never completed (refused, timed out): no SYN-ACK to carry an echo.</summary>
    NoHandshake,
}
