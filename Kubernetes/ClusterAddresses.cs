using k8s;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Kubernetes;

/// <summary>
/// The Aggregator's view of the cluster's addresses: every pod's addresses over time and
/// every Service's cluster addresses, each kept by its own watch.
/// </summary>
public sealed class ClusterAddresses : IAddressOwners
{
    private readonly PodAddressHistory _pods;
    private readonly ServiceAddresses _services = new();
    private readonly ResourceWatch<k8s.Models.V1Pod, k8s.Models.V1PodList> _podWatch;
    private readonly ResourceWatch<k8s.Models.V1Service, k8s.Models.V1ServiceList> _serviceWatch;

    public ClusterAddresses(IKubernetes api, KubernetesSettings settings, TimeProvider clock, ILogger log)
    {
        _pods = new PodAddressHistory(settings, clock);
        _podWatch = KubernetesWatches.AllPods(api, _pods, log);
        _serviceWatch = KubernetesWatches.AllServices(api, _services, log);
    }

    public int Addresses => _pods.Count;

    public int Services => _services.Count;

    public long Errors => _podWatch.Errors + _serviceWatch.Errors;

    public long Shed => _pods.Shed;

    /// <summary>Runs both watches until <paramref name="cancel"/>.</summary>
    public Task RunAsync(CancellationToken cancel) => Task.WhenAll(_podWatch.RunAsync(cancel), _serviceWatch.RunAsync(cancel));

    public string? PodAt(string address, long unixMs) => _pods.At(address, unixMs)?.Workload;

    public string? ServiceAt(string address, uint port) => _services.At(address, port);
}
