using FlowMesh.Cluster;
using Google.Protobuf;
using Proto;
using Proto.Cluster;

namespace FlowMesh.Hosting;

/// <summary>A bounded question to a virtual actor (client commands, the gateway) and the JSON the client commands print.</summary>
public static class ClientQuery
{
    /// <summary>Protobuf JSON with every field, zeros included (a reader should not have to know the defaults).</summary>
    public static JsonFormatter Json { get; } = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    /// <summary>
    /// Asks a virtual actor and waits at most the request timeout: Proto.Cluster retries
    /// the placement until its token is cancelled, so with no member hosting the kind a
    /// question bounded only by Ctrl-C would wait forever. Null when nobody answered.
    /// </summary>
    public static Task<T?> AskAsync<T>(ClusterMember client, ClusterSettings settings, string identity, string kind, object message, CancellationToken ct)
        where T : class => AskAsync<T>(client, settings.RequestTimeout, identity, kind, message, ct);

    /// <summary>As above, within <paramref name="limit"/>; <paramref name="ct"/> (the caller giving up) still throws.</summary>
    public static async Task<T?> AskAsync<T>(ClusterMember member, TimeSpan limit, string identity, string kind, object message, CancellationToken ct)
        where T : class
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(limit);
        try
        {
            return await member.Cluster.RequestAsync<T>(identity, kind, message, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return null;
        }
    }
}
