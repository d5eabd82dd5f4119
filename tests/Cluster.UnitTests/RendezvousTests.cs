using FlowMesh.Cluster.Placement;
using Proto.Cluster;

namespace FlowMesh.Cluster.UnitTests;

public sealed class RendezvousTests
{
    private static Member[] Members(params string[] ids) => ids.Select(id => new Member { Id = id, Host = "h", Port = 1 }).ToArray();

    [Fact]
    public void Every_process_picks_the_same_member_whatever_the_order()
    {
        var members = Members("m1", "m2", "m3", "m4");
        for (var i = 0; i < 200; i++)
        {
            var identity = $"session-{i}";
            var reversed = members.Reverse().ToArray();
            Assert.Equal(Rendezvous.Choose(members, identity).Id, Rendezvous.Choose(reversed, identity).Id);
        }
    }

    [Fact]
    public void A_member_leaving_moves_only_its_own_identities_and_load_spreads()
    {
        var four = Members("m1", "m2", "m3", "m4");
        var three = Members("m1", "m2", "m4");
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < 4000; i++)
        {
            var identity = $"id-{i}";
            var before = Rendezvous.Choose(four, identity).Id;
            var after = Rendezvous.Choose(three, identity).Id;
            if (before != "m3")
                Assert.Equal(before, after);
            counts[before] = counts.GetValueOrDefault(before) + 1;
        }
        Assert.All(counts.Values, n => Assert.InRange(n, 800, 1200));
    }
}
