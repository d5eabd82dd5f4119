using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Kubernetes;

/// <summary>
/// The API's list+watch protocol for one kind of object: list (the whole state and its
/// resourceVersion), then watch from that version; a watch the server ends is opened
/// again from the last version seen; an expired version (410 Gone, or an ERROR event)
/// lists again. Failures back off from 1 s to 30 s and are counted, never thrown.
/// KubernetesClient has no informer of its own, hence this loop. <c>list</c> makes one list
/// request, <c>watch</c> one watch from a resourceVersion.
/// </summary>
public sealed class ResourceWatch<T, TList>(
    string what, Func<CancellationToken, Task<TList>> list,
    Func<string?, CancellationToken, IAsyncEnumerable<(WatchEventType, T)>> watch, IWatchSink<T> sink, ILogger log)
    where T : IKubernetesObject<V1ObjectMeta>
    where TList : IItems<T>, IMetadata<V1ListMeta>
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private long _lists;
    private long _errors;
    private long _events;

    /// <summary>Full lists taken: the first, and one after each expired version.</summary>
    public long Lists => Interlocked.Read(ref _lists);

    /// <summary>Requests that failed (the API unreachable, refused, or an error event).</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Changes applied from watches.</summary>
    public long Events => Interlocked.Read(ref _events);

    /// <summary>Whether a list has been applied: until then, nothing is known.</summary>
    public bool Synced => Lists > 0;

    public async Task RunAsync(CancellationToken cancel)
    {
        string? version = null;
        var backoff = TimeSpan.FromSeconds(1);
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                if (version is null)
                {
                    var listed = await list(cancel).ConfigureAwait(false);
                    sink.Replace(listed.Items?.ToList() ?? []);
                    version = listed.Metadata?.ResourceVersion;
                    if (Interlocked.Increment(ref _lists) == 1)
                        log.LogInformation("Kubernetes {What}: listed {Count}, watching", what, listed.Items?.Count ?? 0);
                }
                version = await WatchAsync(version, cancel).ConfigureAwait(false);
                backoff = TimeSpan.FromSeconds(1);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                break;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Gone)
            {
                version = null; // too old to watch from: list again
            }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException or System.Text.Json.JsonException or TaskCanceledException)
            {
                Interlocked.Increment(ref _errors);
                log.LogWarning("Kubernetes {What}: {Error}; again in {Seconds} s", what, e.Message, backoff.TotalSeconds);
                try
                {
                    await Task.Delay(backoff, cancel).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    /// <summary>One watch until the server ends it; the version to go on from (null: list again).</summary>
    private async Task<string?> WatchAsync(string? version, CancellationToken cancel)
    {
        await foreach (var (type, item) in watch(version, cancel).ConfigureAwait(false))
        {
            if (type == WatchEventType.Error)
            {
                // An expired version comes as an ERROR event holding a Status (410): list again.
                Interlocked.Increment(ref _errors);
                return null;
            }
            if (item?.Metadata?.ResourceVersion is { Length: > 0 } seen)
                version = seen;
            if (type == WatchEventType.Bookmark || item is null)
                continue;
            sink.Apply(type, item);
            Interlocked.Increment(ref _events);
        }
        return version;
    }
}
