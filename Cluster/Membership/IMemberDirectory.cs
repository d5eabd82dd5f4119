using FlowMesh.Contracts.Messages;

namespace FlowMesh.Cluster.Membership;

/// <summary>What placement needs to know about members beyond Proto's view: which host each captures.</summary>
public interface IMemberDirectory
{
    IReadOnlyDictionary<string, MemberRegistration> Registrations { get; }
}
