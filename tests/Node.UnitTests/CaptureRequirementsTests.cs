using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.UnitTests;

public sealed class CaptureRequirementsTests
{
    private const ulong NetAdmin = 1UL << 12, SysAdmin = 1UL << 21, Perfmon = 1UL << 38, Bpf = 1UL << 39;

    [Theory]
    [InlineData(0UL, "CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN")]
    [InlineData(Bpf | Perfmon | NetAdmin, "")]
    [InlineData(SysAdmin | NetAdmin, "")]
    [InlineData(Bpf | Perfmon, "CAP_NET_ADMIN")]
    [InlineData(Bpf | NetAdmin, "CAP_PERFMON")]
    [InlineData(SysAdmin, "CAP_NET_ADMIN")]
    [InlineData(0x1fffeffffffUL, "")] // root in this workplace: everything but CAP_SYS_RESOURCE
    public void Missing_capabilities_are_named(ulong effective, string expected)
    {
        Assert.Equal(expected, string.Join(",", CaptureRequirements.MissingCapabilities(effective)));
    }

    [Fact]
    public void An_unknown_namespace_name_says_how_to_create_it()
    {
        var ex = Assert.Throws<CaptureStartException>(() => NetworkNamespace.Resolve("flowmesh-no-such-namespace"));
        Assert.Contains("ip netns add flowmesh-no-such-namespace", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void All_disables_the_namespace_filter()
    {
        Assert.True(NetworkNamespace.Resolve("all").IsAll);
        Assert.Equal(0u, NetworkNamespace.Resolve("all").Inode);
    }

    [Fact]
    public void Self_is_this_process_namespace()
    {
        var self = NetworkNamespace.Resolve("self");
        var link = new FileInfo("/proc/self/ns/net").LinkTarget; // "net:[4026531840]"
        Assert.Equal($"net:[{self.Inode}]", link);
    }
}
