using System.Net;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Flows;

namespace FlowMesh.Node.UnitTests;

public sealed class FlowNamesTests
{
    private static AddressBytes Bytes(string address)
    {
        var bytes = new AddressBytes();
        IPAddress.Parse(address).TryWriteBytes(bytes, out _);
        return bytes;
    }

    [Fact]
    public void An_address_is_spelt_once_and_as_IPAddress_spells_it()
    {
        var names = new FlowNames();
        var v4 = Bytes("10.99.0.2");
        var first = names.Address(v4, ipv6: false);
        Assert.Equal("10.99.0.2", first);
        Assert.Same(first, names.Address(v4, ipv6: false));
        Assert.Equal("fd00::1", names.Address(Bytes("fd00::1"), ipv6: true));
    }

    [Fact]
    public void A_process_name_stops_at_its_NUL()
    {
        var comm = new CommBytes();
        "redis-server"u8.CopyTo(comm);
        var names = new FlowNames();
        Assert.Equal("redis-server", names.Comm(comm));
        Assert.Same(names.Comm(comm), names.Comm(comm));
    }
}
