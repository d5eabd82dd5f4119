using FlowMesh.Contracts.Capture;

namespace FlowMesh.Contracts.UnitTests;

public sealed class TcpStateNameTests
{
    [Theory]
    [InlineData(TcpState.Established, "TCP_ESTABLISHED")]
    [InlineData(TcpState.SynSent, "TCP_SYN_SENT")]
    [InlineData(TcpState.TimeWait, "TCP_TIME_WAIT")]
    [InlineData(TcpState.Close, "TCP_CLOSE")]
    [InlineData(TcpState.NewSynRecv, "TCP_NEW_SYN_RECV")]
    public void States_carry_the_kernel_names(TcpState state, string name)
    {
        Assert.Equal(name, state.KernelName());
        Assert.Equal(name[4..], state.ShortName());
        Assert.True(TcpStateNames.TryParseKernelName(name, out var parsed));
        Assert.Equal(state, parsed);
    }

    [Fact]
    public void Out_of_range_states_are_named_unknown()
    {
        Assert.Equal("TCP_UNKNOWN", ((TcpState)99).KernelName());
        Assert.False(TcpStateNames.TryParseKernelName("TCP_BOGUS", out _));
    }
}
