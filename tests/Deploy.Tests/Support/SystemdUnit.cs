namespace FlowMesh.Deploy.Tests.Support;

/// <summary>A systemd unit file of deploy/systemd: its sections and their settings (a key may repeat).</summary>
internal sealed class SystemdUnit
{
    private readonly Dictionary<string, List<KeyValuePair<string, string>>> _sections;

    private SystemdUnit(string path, Dictionary<string, List<KeyValuePair<string, string>>> sections)
    {
        Path = path;
        _sections = sections;
    }

    public string Path { get; }

    public IEnumerable<string> Sections => _sections.Keys;

    public static IReadOnlyList<SystemdUnit> All { get; } =
        [.. Directory.GetFiles(Repo.PathOf("deploy", "systemd"), "*.service").Order(StringComparer.Ordinal).Select(Parse)];

    /// <summary>Every value of a key in a section, in order.</summary>
    public IReadOnlyList<string> Values(string section, string key) =>
        _sections.TryGetValue(section, out var entries)
            ? [.. entries.Where(e => e.Key == key).Select(e => e.Value)]
            : [];

    public string? Value(string section, string key) => Values(section, key) is [.., var last] ? last : null;

    /// <summary>Space-separated words of every value of a key (AmbientCapabilities=CAP_BPF CAP_PERFMON).</summary>
    public IReadOnlySet<string> Words(string section, string key) =>
        Values(section, key).SelectMany(v => v.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToHashSet(StringComparer.Ordinal);

    /// <summary>ExecStart split into words (the units use no quoting).</summary>
    public IReadOnlyList<string> ExecStart =>
        Value("Service", "ExecStart")?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];

    public string? ConfigFile
    {
        get
        {
            var words = ExecStart;
            for (var i = 0; i < words.Count - 1; i++)
            {
                if (words[i] == "--config")
                    return words[i + 1];
            }
            return null;
        }
    }

    public override string ToString() => Repo.Relative(Path);

    private static SystemdUnit Parse(string path)
    {
        var sections = new Dictionary<string, List<KeyValuePair<string, string>>>(StringComparer.Ordinal);
        List<KeyValuePair<string, string>>? current = null;
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#') || line.StartsWith(';'))
                continue;
            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                current = [];
                sections[line[1..^1]] = current;
                continue;
            }
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (current is null || eq <= 0)
                throw new FormatException($"{Repo.Relative(path)}: not a setting inside a section: {line}");
            current.Add(KeyValuePair.Create(line[..eq].Trim(), line[(eq + 1)..].Trim()));
        }
        return new SystemdUnit(path, sections);
    }
}
