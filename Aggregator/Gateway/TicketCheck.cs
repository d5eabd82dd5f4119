namespace FlowMesh.Aggregator.Gateway;

/// <summary>What presenting a stream ticket came to.</summary>
internal enum TicketCheck
{
    /// <summary>Issued here, not expired, not used before: the stream may start (and the ticket is now used).</summary>
    Valid,

    /// <summary>Never issued by this gateway process, or expired so long ago it was forgotten.</summary>
    Unknown,

    /// <summary>Issued here, but its lifetime is over.</summary>
    Expired,

    /// <summary>Issued here and already started a stream.</summary>
    Used,
}
