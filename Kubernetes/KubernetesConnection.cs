using k8s;

namespace FlowMesh.Kubernetes;

/// <summary>The API client the settings ask for; a clear one-line error when it cannot be made.</summary>
public static class KubernetesConnection
{
    public static IKubernetes Open(KubernetesSettings settings)
    {
        try
        {
            var config = settings.Kubeconfig is { Length: > 0 } path
                ? KubernetesClientConfiguration.BuildConfigFromConfigFile(path)
                : KubernetesClientConfiguration.InClusterConfig();
            return new k8s.Kubernetes(config);
        }
        catch (Exception e) when (e is k8s.Exceptions.KubeConfigException or IOException or UnauthorizedAccessException)
        {
            throw new KubernetesSetupException(settings.Kubeconfig is { Length: > 0 } p
                ? $"the kubeconfig {p} could not be read ({e.Message}): fix it or unset Kubernetes:Kubeconfig"
                : $"no Kubernetes service account here ({e.Message}): set Kubernetes:Kubeconfig, or Kubernetes:Enabled=false");
        }
    }
}
