using FlowMesh.Cluster.Startup;

namespace FlowMesh.Kubernetes;

/// <summary>The Kubernetes API cannot be reached as configured: the message says what is missing and how to fix it.</summary>
public sealed class KubernetesSetupException(string message) : StartupException(message);
