using FlowMesh.Cluster.Startup;

namespace FlowMesh.Cluster.Transport;

/// <summary>TLS material that cannot work (missing, unreadable, expired, from another CA), or none where it is required.</summary>
public sealed class ClusterTlsException(string message) : StartupException(message);
