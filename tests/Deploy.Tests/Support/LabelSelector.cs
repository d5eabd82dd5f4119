namespace FlowMesh.Deploy.Tests.Support;

/// <summary>A Kubernetes label selector (matchLabels and matchExpressions), applied to a set of labels.</summary>
internal static class LabelSelector
{
    /// <summary>True if the selector is present and selects everything: {} (as a NetworkPolicy's podSelector or namespaceSelector).</summary>
    public static bool IsEverything(YamlValue selector) =>
        selector.IsMapping && !selector["matchLabels"].Entries.Any() && !selector["matchExpressions"].Items.Any();

    public static bool Matches(YamlValue selector, IReadOnlyDictionary<string, string?> labels)
    {
        foreach (var (key, value) in selector["matchLabels"].Entries)
        {
            if (!labels.TryGetValue(key, out var actual) || actual != value.Text)
                return false;
        }
        foreach (var expression in selector["matchExpressions"].Items)
        {
            var key = expression["key"].Text ?? "";
            var values = expression["values"].Strings.ToHashSet(StringComparer.Ordinal);
            var has = labels.TryGetValue(key, out var actual);
            var ok = expression["operator"].Text switch
            {
                "In" => has && values.Contains(actual ?? ""),
                "NotIn" => !has || !values.Contains(actual ?? ""),
                "Exists" => has,
                "DoesNotExist" => !has,
                var op => throw new InvalidOperationException($"unknown label selector operator {op}"),
            };
            if (!ok)
                return false;
        }
        return true;
    }
}
