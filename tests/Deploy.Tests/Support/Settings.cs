using System.Text.Json;

namespace FlowMesh.Deploy.Tests.Support;

/// <summary>
/// Settings as a FlowMesh process sees them, in the order ProcessHost reads them: the
/// role's appsettings.json, then a --config file, then FLOWMESH_* environment variables.
/// Keys are "Section:Key", compared without case as .NET configuration does.
/// </summary>
internal sealed class Settings
{
    public const string EnvPrefix = "FLOWMESH_";

    private readonly Dictionary<string, string?> _values;

    private Settings(IReadOnlySet<string> known, Dictionary<string, string?> values)
    {
        Known = known;
        _values = values;
    }

    /// <summary>Every key the role's appsettings.json has: the keys the code reads.</summary>
    public IReadOnlySet<string> Known { get; }

    public string? this[string key] => _values.GetValueOrDefault(key);

    /// <summary>The defaults of a role: the appsettings.json beside its project.</summary>
    public static Settings Defaults(Role role)
    {
        var values = Flatten(role.AppSettingsPath).ToDictionary(kv => kv.Key, kv => Scalar(kv.Value), StringComparer.OrdinalIgnoreCase);
        return new Settings(values.Keys.ToHashSet(StringComparer.OrdinalIgnoreCase), values);
    }

    /// <summary>These settings with a --config file laid over them.</summary>
    public Settings WithFile(string path)
    {
        var values = new Dictionary<string, string?>(_values, StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in Flatten(path))
            values[key] = Scalar(value);
        return new Settings(Known, values);
    }

    /// <summary>These settings with an environment variable laid over them (ignored unless FLOWMESH_*).</summary>
    public Settings WithEnv(string name, string? value)
    {
        if (EnvKey(name) is not { } key)
            return this;
        return new Settings(Known, new Dictionary<string, string?>(_values, StringComparer.OrdinalIgnoreCase) { [key] = value });
    }

    /// <summary>FLOWMESH_CLUSTER__REDIS -> Cluster:Redis (as the environment variable provider maps it); null if not FLOWMESH_*.</summary>
    public static string? EnvKey(string name) =>
        name.StartsWith(EnvPrefix, StringComparison.OrdinalIgnoreCase)
            ? name[EnvPrefix.Length..].Replace("__", ":", StringComparison.Ordinal)
            : null;

    /// <summary>Leaves of a JSON settings file by "Section:Key"; an array is one leaf (its key is what the code binds).</summary>
    public static IReadOnlyList<KeyValuePair<string, JsonElement>> Flatten(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var leaves = new List<KeyValuePair<string, JsonElement>>();
        Walk(document.RootElement, "", leaves);
        return leaves;
    }

    private static void Walk(JsonElement element, string prefix, List<KeyValuePair<string, JsonElement>> leaves)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
                Walk(property.Value, prefix.Length == 0 ? property.Name : $"{prefix}:{property.Name}", leaves);
        }
        else
        {
            leaves.Add(KeyValuePair.Create(prefix, element.Clone()));
        }
    }

    private static string? Scalar(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Null => null,
        _ => value.GetRawText(),
    };
}
