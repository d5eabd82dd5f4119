using System.Globalization;

namespace FlowMesh.Deploy.Tests.Support;

/// <summary>
/// The key of a ConfigMap or Secret that a container sees at a path: through a
/// configMap, secret or projected volume, with or without items and subPath.
/// </summary>
internal sealed record MountedFile(string SourceKind, string SourceName, string Key, YamlValue Mount, int Mode)
{
    /// <summary>Kubernetes' mode for files of such volumes when none is given.</summary>
    public const int DefaultMode = 0b110_100_100; // 0644

    /// <summary>A subPath mount is a copy made at start: later changes to the Secret never reach it.</summary>
    public bool UpdatesInPlace => !Mount["subPath"].Exists;

    public bool ReadOnly => Mount["readOnly"].IsTrue;

    public override string ToString() => $"{SourceKind} {SourceName} key {Key} (mode {Convert.ToString(Mode, 8)})";

    /// <summary>What the container reads at <paramref name="path"/>; null if no ConfigMap or Secret key is there.</summary>
    public static MountedFile? At(KubeObject workload, YamlValue container, string path, Func<string, string, bool>? configMapHasKey = null)
    {
        // The deepest mount that holds the path is the one the container sees.
        var mount = container["volumeMounts"].Items
            .Where(m => m["mountPath"].Text is { } p && (path.StartsWith(p.TrimEnd('/') + "/", StringComparison.Ordinal) || (path == p.TrimEnd('/') && m["subPath"].Exists)))
            .MaxBy(m => m["mountPath"].Text!.TrimEnd('/').Length);
        if (mount is null)
            return null;
        var mountPath = mount["mountPath"].Text!.TrimEnd('/');
        var inVolume = path.Length > mountPath.Length ? path[(mountPath.Length + 1)..] : "";
        if (mount["subPath"].Text is { Length: > 0 } subPath)
            inVolume = inVolume.Length == 0 ? subPath : $"{subPath}/{inVolume}";

        var volume = workload.PodSpec["volumes"].Items.FirstOrDefault(v => v["name"].Text == mount["name"].Text);
        if (volume is null)
            return null;
        var projected = volume["projected"];
        var sources = projected.Exists
            ? projected["sources"].Items.SelectMany(s => new[] { ("configMap", s["configMap"]), ("secret", s["secret"]) })
            : [("configMap", volume["configMap"]), ("secret", volume["secret"])];
        var volumeDefault = ParseMode(projected.Exists ? projected["defaultMode"] : YamlValue.None);
        foreach (var (kind, source) in sources.Where(s => s.Item2.Exists))
        {
            var name = kind == "secret" && !projected.Exists ? source["secretName"].Text : source["name"].Text;
            if (name is null)
                continue;
            var defaultMode = ParseMode(source["defaultMode"]) ?? volumeDefault ?? DefaultMode;
            var items = source["items"].Items.ToList();
            if (items.Count > 0)
            {
                var item = items.FirstOrDefault(i => i["path"].Text == inVolume);
                if (item?["key"].Text is { } key)
                    return new MountedFile(kind, name, key, mount, ParseMode(item["mode"]) ?? defaultMode);
            }
            // Without items every key is a file named after it, at the top of the volume.
            else if (inVolume.Length > 0 && !inVolume.Contains('/', StringComparison.Ordinal)
                && (kind != "configMap" || configMapHasKey is null || configMapHasKey(name, inVolume)))
            {
                return new MountedFile(kind, name, inVolume, mount, defaultMode);
            }
        }
        return null;
    }

    /// <summary>A YAML file mode: 0400 is octal (YAML 1.1, as Kubernetes reads it), 256 decimal.</summary>
    public static int? ParseMode(YamlValue value)
    {
        var text = value.Text;
        if (string.IsNullOrEmpty(text))
            return null;
        if (text.StartsWith("0o", StringComparison.Ordinal))
            return Convert.ToInt32(text[2..], 8);
        if (text.Length > 1 && text[0] == '0')
            return Convert.ToInt32(text, 8);
        return int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture);
    }
}
