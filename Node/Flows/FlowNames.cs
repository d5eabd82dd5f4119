using System.Runtime.InteropServices;
using FlowMesh.Contracts.Capture;

namespace FlowMesh.Node.Flows;

/// <summary>
/// Addresses and process names as text, remembered: a host talks to few addresses and
/// runs few processes, and every flow view spells both ends and its process (two views
/// per closed flow). Bounded: past the limit a table starts over. One per flow shard, so
/// not thread-safe.
/// </summary>
internal sealed class FlowNames
{
    private const int Limit = 4096;
    private readonly Dictionary<(UInt128 Bytes, bool IPv6), string> _addresses = [];
    private readonly Dictionary<UInt128, string> _comms = [];

    public string Address(in AddressBytes bytes, bool ipv6)
    {
        var key = (MemoryMarshal.Read<UInt128>(bytes), ipv6);
        if (_addresses.TryGetValue(key, out var text))
            return text;
        if (_addresses.Count == Limit)
            _addresses.Clear();
        return _addresses[key] = bytes.ToAddress(ipv6).ToString();
    }

    public string Comm(in CommBytes comm)
    {
        var key = MemoryMarshal.Read<UInt128>(comm);
        if (_comms.TryGetValue(key, out var text))
            return text;
        if (_comms.Count == Limit)
            _comms.Clear();
        return _comms[key] = comm.ToText();
    }
}
