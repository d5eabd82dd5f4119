using FlowMesh.Cluster.Startup;

namespace FlowMesh.Cluster.Redis;

/// <summary>Redis answered but refused the credentials in <c>Cluster:Redis</c> (none, or a wrong password or user).</summary>
public sealed class RedisCredentialsException(string message) : StartupException(message);
