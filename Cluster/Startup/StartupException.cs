namespace FlowMesh.Cluster.Startup;

/// <summary>
/// Something a process needs at start is missing or wrong (TLS material, Redis credentials, a kubeconfig):
/// its message is the one line the user reads (what is wrong, how to fix it). Every command
/// prints it as <c>flowmesh: error: ...</c> and exits with status 2.
/// </summary>
public abstract class StartupException(string message) : Exception(message);
