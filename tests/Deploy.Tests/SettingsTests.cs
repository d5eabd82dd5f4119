using System.Text.Json;
using System.Text.RegularExpressions;
using FlowMesh.Deploy.Tests.Support;

namespace FlowMesh.Deploy.Tests;

/// <summary>
/// Every setting deploy/ writes is one the code reads: a key missing from the role's
/// appsettings.json is silently ignored at run time, so a typo would only show as a
/// Node or Aggregator running with a default.
/// </summary>
public sealed partial class SettingsTests
{
    /// <summary>Every settings file deploy/ passes with --config, with the role that reads it.</summary>
    private static IEnumerable<(string File, Role Role)> ConfigFiles()
    {
        foreach (var c in RoleContainer.All)
        {
            Assert.True(c.ConfigFile is not null && File.Exists(c.ConfigFile), $"{c}: its --config file is not a file of the mounted ConfigMap");
            yield return (c.ConfigFile!, c.Role);
        }
        foreach (var unit in SystemdUnit.All)
        {
            var role = SystemdTests.RoleOf(unit);
            var config = unit.ConfigFile;
            Assert.NotNull(config);
            yield return (Repo.PathOf("deploy", "systemd", Path.GetFileName(config)), role);
        }
    }

    [Fact]
    public void Both_roles_run_in_Kubernetes_and_under_systemd()
    {
        var roles = Role.All.Select(r => r.AssemblyName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(roles, RoleContainer.All.Select(c => c.Role.AssemblyName).Order(StringComparer.Ordinal));
        Assert.Equal(roles, SystemdUnit.All.Select(u => SystemdTests.RoleOf(u).AssemblyName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Config_files_hold_only_keys_the_code_reads_with_values_of_the_same_kind()
    {
        var files = ConfigFiles().ToList();
        Assert.Equal(4, files.Count);
        foreach (var (file, role) in files)
        {
            var defaults = Settings.Flatten(role.AppSettingsPath).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.OrdinalIgnoreCase);
            var leaves = Settings.Flatten(file);
            Assert.NotEmpty(leaves);
            foreach (var (key, value) in leaves)
            {
                Assert.True(defaults.TryGetValue(key, out var expected), $"{Repo.Relative(file)}: {key} is not a setting of {role} ({Repo.Relative(role.AppSettingsPath)})");
                Assert.True(SameKind(expected, value), $"{Repo.Relative(file)}: {key} is {value.ValueKind}, {role} reads a {expected.ValueKind}");
            }
        }
    }

    [Fact]
    public void Every_ConfigMap_file_is_read_by_a_container()
    {
        var read = RoleContainer.All.Select(c => c.ConfigFile).OfType<string>().Select(Path.GetFullPath).ToHashSet(StringComparer.Ordinal);
        foreach (var (_, path) in Manifests.Instance.GeneratedConfigMaps.Values.SelectMany(f => f))
            Assert.True(read.Contains(Path.GetFullPath(path)), $"{Repo.Relative(path)} is in the ConfigMap but no container passes it with --config");
    }

    [Fact]
    public void Environment_variables_in_manifests_map_to_keys_the_code_reads()
    {
        var checkedVars = 0;
        foreach (var c in RoleContainer.All)
        {
            var env = c.Container["env"].Items.ToList();
            for (var i = 0; i < env.Count; i++)
            {
                var name = env[i]["name"].Text ?? "";
                var key = Settings.EnvKey(name);
                if (key is null)
                {
                    // Only as a part of a setting declared below it: Kubernetes puts its value in
                    // place of $(NAME) there (a Secret's value inside the Redis configuration string).
                    var usedBelow = env.Skip(i + 1).Any(e => Settings.EnvKey(e["name"].Text ?? "") is not null
                        && ContainerEnv.References(e["value"].Text ?? "").Contains(name, StringComparer.Ordinal));
                    Assert.True(usedBelow, $"{c}: {name} is not a FLOWMESH_ setting (the code reads only those) and no setting below it uses $({name})");
                    continue;
                }
                Assert.True(c.Settings.Known.Contains(key), $"{c}: {name} maps to {key}, which {c.Role} does not read");
                checkedVars++;
            }
        }
        Assert.NotEqual(0, checkedVars);
    }

    [Fact]
    public void Environment_variables_of_the_systemd_units_and_their_env_files_map_to_keys_the_code_reads()
    {
        foreach (var unit in SystemdUnit.All)
        {
            var role = SystemdTests.RoleOf(unit);
            var known = Settings.Defaults(role).Known;
            var names = new List<string>();
            names.AddRange(unit.Values("Service", "Environment")
                .SelectMany(v => v.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(assignment => assignment.Trim('"').Split('=')[0])
                .Where(n => n.StartsWith(Settings.EnvPrefix, StringComparison.Ordinal)));
            foreach (var envFile in SystemdTests.EnvironmentFiles(unit))
            {
                // Commented examples count too: a user uncomments them as they are.
                var found = EnvLine().Matches(File.ReadAllText(envFile)).Select(m => m.Groups[1].Value).ToList();
                Assert.NotEmpty(found);
                names.AddRange(found);
            }
            Assert.NotEmpty(names);
            foreach (var name in names)
                Assert.True(known.Contains(Settings.EnvKey(name)!), $"{unit}: {name} maps to {Settings.EnvKey(name)}, which {role} does not read");
        }
    }

    [Fact]
    public void Node_captures_every_namespace_of_its_host()
    {
        // In a pod with the host's network, "self" would be the host's namespace only:
        // the pods' own namespaces would go unseen.
        Assert.Contains("all", Code.NamespaceKeywords);
        Assert.Equal("all", RoleContainer.Of(Role.Node).Settings["Node:Netns"]);
        var systemdNode = SystemdUnit.All.Single(u => SystemdTests.RoleOf(u) == Role.Node);
        var settings = Settings.Defaults(Role.Node).WithFile(Repo.PathOf("deploy", "systemd", Path.GetFileName(systemdNode.ConfigFile!)));
        Assert.Equal("all", settings["Node:Netns"]);
    }

    private static bool SameKind(JsonElement expected, JsonElement actual) =>
        Kind(expected) == Kind(actual);

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.True or JsonValueKind.False => "bool",
        JsonValueKind.Number => "number",
        JsonValueKind.String => "string",
        JsonValueKind.Array => "array",
        JsonValueKind.Object => "object",
        _ => "null",
    };

    [GeneratedRegex(@"^\s*#?\s*(FLOWMESH_[A-Za-z0-9_]+)=", RegexOptions.Multiline)]
    private static partial Regex EnvLine();
}
