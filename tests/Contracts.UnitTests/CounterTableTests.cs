using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using Google.Protobuf.Reflection;

namespace FlowMesh.Contracts.UnitTests;

public sealed class CounterTableTests
{
    [Fact]
    public void Every_number_the_node_status_carries_has_exactly_one_row_and_every_row_a_field()
    {
        var numbers = NodeStatus.Descriptor.Fields.InFieldNumberOrder()
            .Where(f => !NodeCounterTable.NotFigures.Contains(f.Name))
            .Select(f => f.Name).ToList();
        Assert.All(NodeStatus.Descriptor.Fields.InFieldNumberOrder().Where(f => numbers.Contains(f.Name)),
            f => Assert.Equal(FieldType.Int64, f.FieldType));
        Assert.Equal(numbers.Order(StringComparer.Ordinal), NodeCounterTable.All.Select(s => s.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Names_are_unique_across_roles_so_one_name_means_one_thing_in_the_cluster_totals()
    {
        var names = NodeCounterTable.All.Concat(AggregatorCounterTable.All).Select(s => s.Name).ToList();
        var repeated = names.GroupBy(n => n).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        // Per-member figures that are not losses may be carried by both roles.
        Assert.Equal(["dead_letters", "kubernetes_errors", "redis_failures", "tls_refused"], repeated.Order(StringComparer.Ordinal));
        Assert.All(NodeCounterTable.All.Concat(AggregatorCounterTable.All), s => Assert.False(string.IsNullOrWhiteSpace(s.Help), s.Name));
    }

    [Fact]
    public void Metric_names_add_total_to_counters_only_and_families_share_one_name()
    {
        Assert.Equal("flowmesh_node_kernel_drops_total", NodeCounterTable.All.Single(s => s.Name == "kernel_drops").MetricName("flowmesh_node_"));
        Assert.Equal("flowmesh_node_flows_active", NodeCounterTable.All.Single(s => s.Name == "flows_active").MetricName("flowmesh_node_"));
        Assert.Single(AggregatorCounterTable.All.Where(s => s.Family == "sessions").Select(s => s.MetricName("flowmesh_aggregator_")).Distinct());
    }
}
