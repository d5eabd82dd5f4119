using FlowMesh.Node.Flows;

namespace FlowMesh.Node.UnitTests;

public sealed class FlowIdsTests
{
    [Fact]
    public void The_boot_ids_first_four_hex_digits_are_the_top_16_bits()
    {
        Assert.Equal(0xbe0fUL << 48, FlowIds.BootBits("be0f3c6a-0d8e-4f3b-9a51-2c6f1e0d7a44"));
        Assert.Equal(0UL, FlowIds.BootBits(""));
        Assert.Equal(0UL, FlowIds.BootBits("zz"));
    }

    [Fact]
    public void A_published_cookie_carries_this_boot_and_gives_back_the_kernels()
    {
        const ulong kernel = 40_963;
        var published = FlowIds.Published(kernel);
        Assert.Equal(kernel, FlowIds.Kernel(published));
        Assert.True(FlowIds.IsThisBoot(published));
        // A flow saved under another boot's bits is not this boot's, whatever its kernel cookie.
        Assert.False(FlowIds.IsThisBoot(kernel | (FlowIds.Boot ^ (1UL << 48))));
        Assert.Equal(FlowIds.BootBits(File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim()), FlowIds.Boot);
    }
}
