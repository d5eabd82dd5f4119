using FlowMesh.Cluster.Startup;

namespace FlowMesh.Node.Hosting;

/// <summary>A trace tag key file that cannot be read or holds a bad key.</summary>
internal sealed class TagKeyException(string message) : StartupException(message);
