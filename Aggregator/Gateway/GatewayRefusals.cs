namespace FlowMesh.Aggregator.Gateway;

/// <summary>The requests the gateway turned away before any handler ran, by why (rows of the Aggregator's counter table).</summary>
internal sealed class GatewayRefusals
{
    private long _unauthorized;
    private long _limited;
    private long _host;

    /// <summary>401s: no token, a wrong one, a token in a URL, or a stream ticket unknown, expired or used.</summary>
    public long Unauthorized => Interlocked.Read(ref _unauthorized);

    /// <summary>429s: a client past <c>Gateway:RequestsPerSecond</c> and <c>Gateway:Burst</c>.</summary>
    public long Limited => Interlocked.Read(ref _limited);

    /// <summary>400s of a loopback gateway without a token: a Host header it does not answer to.</summary>
    public long HostRefused => Interlocked.Read(ref _host);

    public void CountUnauthorized() => Interlocked.Increment(ref _unauthorized);
    public void CountLimited() => Interlocked.Increment(ref _limited);
    public void CountHostRefused() => Interlocked.Increment(ref _host);
}
