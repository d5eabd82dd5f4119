namespace FlowMesh.Aggregator.Gateway;

/// <summary>The gateway could not start (its address is taken or not this host's): one line for the user.</summary>
public sealed class GatewayStartException(string message, Exception inner) : Exception(message, inner);
