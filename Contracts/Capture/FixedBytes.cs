using System.Runtime.CompilerServices;

namespace FlowMesh.Contracts.Capture;

/// <summary>16 bytes inline: an IPv4 (first 4 bytes) or IPv6 address in network byte order.</summary>
[InlineArray(16)]
public struct AddressBytes
{
    private byte _element0;
}

/// <summary>The kernel's task name: up to 15 bytes and a NUL.</summary>
[InlineArray(16)]
public struct CommBytes
{
    private byte _element0;
}
