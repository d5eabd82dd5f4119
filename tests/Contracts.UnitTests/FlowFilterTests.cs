using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Cluster;

namespace FlowMesh.Contracts.UnitTests;

public sealed class FlowFilterTests
{
    [Theory]
    [InlineData("", true)]
    [InlineData("closed", true)]
    [InlineData("close", true)]
    [InlineData("tcp_close", true)]
    [InlineData("TCP_CLOSE", true)]
    [InlineData("open", false)]
    [InlineData("ESTABLISHED", false)]
    [InlineData("close_wait", false)]
    public void Only_filters_a_closed_flow_can_match_send_the_gateway_to_the_closed_records(string state, bool canMatchClosed)
    {
        Assert.True(state.Length == 0 || FlowFilters.IsKnownState(state), $"{state} is a filter the gateway accepts");
        Assert.Equal(canMatchClosed, FlowFilters.CanMatchClosed(state));
    }

    [Fact]
    public void Every_event_kind_name_parses_back_to_its_kind_and_no_other_name_does()
    {
        foreach (var kind in new[] { TcpEventKind.State, TcpEventKind.Retransmit, TcpEventKind.ResetSent, TcpEventKind.ResetReceived, TcpEventKind.Existing, TcpEventKind.TagEchoed })
        {
            Assert.True(TcpEventKindNames.TryParse(kind.Name(), out var parsed), kind.Name());
            Assert.Equal(kind, parsed);
        }
        Assert.False(TcpEventKindNames.TryParse("unknown", out _));
        Assert.False(TcpEventKindNames.TryParse("State", out _));
    }
}
