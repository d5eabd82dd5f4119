using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace FlowMesh.Deploy.Tests.Support;

/// <summary>
/// A node of a parsed YAML document, navigated by key; a missing key gives an empty
/// value rather than an exception, so a test can say what it expected instead.
/// </summary>
internal sealed class YamlValue
{
    private static readonly YamlValue Missing = new(null);
    private readonly YamlNode? _node;

    private YamlValue(YamlNode? node) => _node = node;

    /// <summary>A value that is not there, as a missing key gives.</summary>
    public static YamlValue None => Missing;

    public bool Exists => _node is not null;

    public bool IsMapping => _node is YamlMappingNode;

    /// <summary>The scalar's text; null for a mapping, a sequence or a missing value.</summary>
    public string? Text => (_node as YamlScalarNode)?.Value;

    public YamlValue this[string key]
    {
        get
        {
            if (_node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var child))
                return new YamlValue(child);
            return Missing;
        }
    }

    /// <summary>Follows dotted keys: <c>spec.template.spec</c>.</summary>
    public YamlValue At(string path) => path.Split('.').Aggregate(this, (value, key) => value[key]);

    /// <summary>A sequence's items; none for anything else.</summary>
    public IEnumerable<YamlValue> Items =>
        _node is YamlSequenceNode seq ? seq.Children.Select(c => new YamlValue(c)) : [];

    /// <summary>A mapping's entries whose keys are scalars; none for anything else.</summary>
    public IEnumerable<KeyValuePair<string, YamlValue>> Entries =>
        _node is YamlMappingNode map
            ? map.Children.Where(kv => kv.Key is YamlScalarNode).Select(kv => KeyValuePair.Create(((YamlScalarNode)kv.Key).Value ?? "", new YamlValue(kv.Value)))
            : [];

    public IEnumerable<string> Strings => Items.Select(i => i.Text).OfType<string>();

    public bool IsTrue => string.Equals(Text, "true", StringComparison.OrdinalIgnoreCase);

    public bool IsFalse => string.Equals(Text, "false", StringComparison.OrdinalIgnoreCase);

    public int? Int => int.TryParse(Text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;

    /// <summary>Every document of a YAML file (a multi-document stream gives several).</summary>
    public static IReadOnlyList<YamlValue> LoadAll(string path)
    {
        using var reader = new StreamReader(path);
        var stream = new YamlStream();
        stream.Load(reader);
        return [.. stream.Documents.Select(d => new YamlValue(d.RootNode))];
    }

    public override string ToString() => Text ?? _node?.ToString() ?? "(missing)";
}
