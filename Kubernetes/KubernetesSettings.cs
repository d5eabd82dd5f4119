namespace FlowMesh.Kubernetes;

/// <summary>
/// Where the Kubernetes API is (the <c>Kubernetes</c> section of the Node's and the
/// Aggregator's settings). Off unless enabled, or unless the process runs in a pod
/// (KUBERNETES_SERVICE_HOST is set) and nothing says otherwise.
/// </summary>
public sealed class KubernetesSettings
{
    /// <summary>true, false, or unset: on inside a pod, off elsewhere.</summary>
    public bool? Enabled { get; set; }

    /// <summary>A kubeconfig file; unset inside a pod: its service account.</summary>
    public string? Kubeconfig { get; set; }

    /// <summary>The Node's node name (the pod's spec.nodeName, from the downward API); default: the host name.</summary>
    public string? NodeName { get; set; }

    /// <summary>At most this many pods are known at once; past it, new ones are counted and not kept.</summary>
    public int MaxPods { get; set; } = 65_536;

    /// <summary>How long an address remembers a pod that left it (the Aggregator), so a late flow is named as it was.</summary>
    public TimeSpan History { get; set; } = TimeSpan.FromHours(1);

    public bool IsEnabled => Enabled ?? Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST") is { Length: > 0 };

    public string EffectiveNodeName => NodeName is { Length: > 0 } n ? n : Environment.MachineName;
}
