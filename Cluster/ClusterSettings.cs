using FlowMesh.Cluster.Transport;

namespace FlowMesh.Cluster;

/// <summary>How a process joins the FlowMesh cluster.</summary>
public sealed record ClusterSettings
{
    /// <summary>Cluster name; also the Redis key prefix, so clusters can share a Redis.</summary>
    public string Name { get; init; } = "flowmesh";

    /// <summary>Redis endpoint (StackExchange.Redis syntax, e.g. <c>127.0.0.1:6379,password=...</c>).</summary>
    public string Redis { get; init; } = "127.0.0.1:6379";

    /// <summary>Address the actor remote listens on.</summary>
    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary>Port the actor remote listens on; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>Address other members use to reach this one (default: the bind address).</summary>
    public string? AdvertisedAddress { get; init; }

    /// <summary>A member that stops renewing its lease leaves every view within this (plus a poll).</summary>
    public TimeSpan MemberTtl { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>How long a request to a virtual actor may take before it fails.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Mutual TLS for the actor transport (<c>Cluster:Tls:*</c>); null: plaintext, allowed on loopback only.</summary>
    public MutualTls? Tls { get; init; }

    /// <summary>Whether an address to listen on is this host's only (where plaintext is allowed).</summary>
    public static bool IsLoopback(string bindAddress) =>
        bindAddress is "localhost" || (System.Net.IPAddress.TryParse(bindAddress, out var address) && System.Net.IPAddress.IsLoopback(address));

    /// <summary>
    /// The TLS material named by the three settings, loaded; none when all three are empty.
    /// Throws <see cref="ClusterTlsException"/> when only some are given, when the material
    /// cannot work, or when there is none and <paramref name="bindAddress"/> is beyond loopback.
    /// </summary>
    public static MutualTls? LoadTls(string? ca, string? cert, string? key, string bindAddress)
    {
        var given = new[] { ca, cert, key }.Count(v => !string.IsNullOrWhiteSpace(v));
        if (given == 0)
        {
            if (IsLoopback(bindAddress))
                return null;
            throw new ClusterTlsException($"the cluster port listens on {bindAddress}, beyond this host, so it needs mutual TLS: make a CA and a member certificate "
                + "(`certs ca --out DIR`, `certs member --ca DIR`) and set Cluster:Tls:Ca, Cluster:Tls:Cert and Cluster:Tls:Key (FLOWMESH_CLUSTER__TLS__CA, ...)");
        }
        if (given < 3)
            throw new ClusterTlsException("Cluster:Tls needs all three of Ca, Cert and Key (PEM files); some are missing");
        return MutualTls.Load(ca!, cert!, key!);
    }
}
