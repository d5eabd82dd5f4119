namespace FlowMesh.Kubernetes;

/// <summary>Who owned an address when: how an end whose host is not in the fleet is named (the Aggregator's sessions).</summary>
public interface IAddressOwners
{
    /// <summary>The workload (namespace/owner) of the pod that held <paramref name="address"/> at <paramref name="unixMs"/>.</summary>
    string? PodAt(string address, long unixMs);

    /// <summary>namespace/name of the Service whose cluster address and port these are.</summary>
    string? ServiceAt(string address, uint port);
}
