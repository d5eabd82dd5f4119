using System.Text.RegularExpressions;

namespace FlowMesh.Deploy.Tests.Support;

/// <summary>
/// A container's environment as Kubernetes builds it: in order, each value with
/// $(NAME) replaced by the value of a variable declared above it (a later or unknown
/// one stays as written, and $$ is a literal $). Values from elsewhere are markers
/// naming their source: $(secret:NAME/KEY), $(fieldRef:PATH).
/// </summary>
internal static partial class ContainerEnv
{
    /// <summary>The container's env entries, names and expanded values, in order.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Of(YamlValue container)
    {
        var declared = new Dictionary<string, string>(StringComparer.Ordinal);
        var result = new List<KeyValuePair<string, string>>();
        foreach (var env in container["env"].Items)
        {
            var name = env["name"].Text ?? "";
            var value = env["value"].Exists ? Expand(env["value"].Text ?? "", declared) : RoleContainer.EnvValue(env);
            declared[name] = value;
            result.Add(KeyValuePair.Create(name, value));
        }
        return result;
    }

    /// <summary>The container's env as a dictionary (the last of a repeated name wins, as in Kubernetes).</summary>
    public static IReadOnlyDictionary<string, string> Map(YamlValue container)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in Of(container))
            map[name] = value;
        return map;
    }

    /// <summary>A command, args or env value with $(NAME) references replaced from <paramref name="env"/>.</summary>
    public static string Expand(string text, IReadOnlyDictionary<string, string> env) =>
        Reference().Replace(text, m => m.Value == "$$" ? "$" : env.TryGetValue(m.Groups[1].Value, out var value) ? value : m.Value);

    /// <summary>The names a value refers to with $(NAME) (not $$(NAME), which is literal).</summary>
    public static IEnumerable<string> References(string text) =>
        Reference().Matches(text).Where(m => m.Value != "$$").Select(m => m.Groups[1].Value);

    [GeneratedRegex(@"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")]
    private static partial Regex Reference();
}
