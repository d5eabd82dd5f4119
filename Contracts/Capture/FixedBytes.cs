using System.Net;
using System.Runtime.CompilerServices;
using System.Text;

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

public static class FixedBytesText
{
    /// <summary>The task name up to its NUL, as text.</summary>
    public static string ToText(this in CommBytes comm)
    {
        ReadOnlySpan<byte> bytes = comm;
        var end = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? bytes : bytes[..end]);
    }

    /// <summary>The address, IPv4 (first 4 bytes) or IPv6.</summary>
    public static IPAddress ToAddress(this in AddressBytes bytes, bool ipv6)
    {
        ReadOnlySpan<byte> span = bytes;
        return ipv6 ? new IPAddress(span) : new IPAddress(span[..4]);
    }
}
