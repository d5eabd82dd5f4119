using FlowMesh.Aggregator.Sessions;

namespace FlowMesh.Aggregator.UnitTests;

public sealed class EdgeCapTests
{
    [Fact]
    public void Edges_past_the_cap_are_counted_under_other_and_admitted_ones_stay()
    {
        var cap = new EdgeCap(2);
        Assert.Equal("a>x:1", cap.Admit("a>x:1"));
        Assert.Equal("b>x:1", cap.Admit("b>x:1"));
        Assert.Equal(EdgeCap.Other, cap.Admit("c>x:1"));
        Assert.Equal("a>x:1", cap.Admit("a>x:1"));
        Assert.Equal(EdgeCap.Other, cap.Known("c>x:1"));
        Assert.Equal("b>x:1", cap.Known("b>x:1"));
        Assert.Equal((2, 1L), (cap.Admitted, cap.Folded));
    }
}
