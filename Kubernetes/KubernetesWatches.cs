using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Kubernetes;

/// <summary>
/// The watches FlowMesh keeps, and the RBAC each needs (deploy/ grants exactly these):
/// a Node lists and watches the pods on its own node; an Aggregator lists and watches
/// every pod and every Service.
/// </summary>
public static class KubernetesWatches
{
    /// <summary>Server-side watch timeout: the server ends a watch after this and it is opened again, a check that it still answers.</summary>
    private const int WatchSeconds = 300;

    public static ResourceWatch<V1Pod, V1PodList> PodsOnNode(IKubernetes api, string nodeName, IWatchSink<V1Pod> sink, ILogger log)
    {
        var selector = "spec.nodeName=" + nodeName;
        return new(
            $"pods on {nodeName}",
            cancel => api.CoreV1.ListPodForAllNamespacesAsync(fieldSelector: selector, cancellationToken: cancel),
            (version, cancel) => api.CoreV1.WatchListPodForAllNamespacesAsync(
                allowWatchBookmarks: true, fieldSelector: selector, resourceVersion: version, timeoutSeconds: WatchSeconds, cancellationToken: cancel),
            sink, log);
    }

    public static ResourceWatch<V1Pod, V1PodList> AllPods(IKubernetes api, IWatchSink<V1Pod> sink, ILogger log) => new(
        "pods",
        cancel => api.CoreV1.ListPodForAllNamespacesAsync(cancellationToken: cancel),
        (version, cancel) => api.CoreV1.WatchListPodForAllNamespacesAsync(
            allowWatchBookmarks: true, resourceVersion: version, timeoutSeconds: WatchSeconds, cancellationToken: cancel),
        sink, log);

    public static ResourceWatch<V1Service, V1ServiceList> AllServices(IKubernetes api, IWatchSink<V1Service> sink, ILogger log) => new(
        "services",
        cancel => api.CoreV1.ListServiceForAllNamespacesAsync(cancellationToken: cancel),
        (version, cancel) => api.CoreV1.WatchListServiceForAllNamespacesAsync(
            allowWatchBookmarks: true, resourceVersion: version, timeoutSeconds: WatchSeconds, cancellationToken: cancel),
        sink, log);
}
