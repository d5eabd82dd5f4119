using System.Text.RegularExpressions;
using FlowMesh.Deploy.Tests.Support;

namespace FlowMesh.Deploy.Tests;

/// <summary>
/// The secrets of the fleet reach the processes where their settings point: the Redis
/// password (Redis and both members, from one Secret), the cluster's TLS material (every
/// member) and the trace tag keys (the Node), on Kubernetes and under systemd; and
/// deploy/README.md creates every Secret the manifests read.
/// </summary>
public sealed partial class TrustTests
{
    private const string TlsSecret = "flowmesh-cluster-tls";
    private const string TagKeySecret = "flowmesh-tag-key";

    private static readonly Manifests M = Manifests.Instance;

    /// <summary>The TLS settings and the key of the Secret (cert-manager's names) each must come from.</summary>
    private static readonly (string Setting, string Key)[] TlsFiles =
        [("Cluster:Tls:Ca", "ca.crt"), ("Cluster:Tls:Cert", "tls.crt"), ("Cluster:Tls:Key", "tls.key")];

    /// <summary>The password Redis is started with: the marker of the Secret it comes from.</summary>
    private static string RedisPassword()
    {
        var redis = Assert.Single(M.Single("StatefulSet", "redis").Containers);
        var env = ContainerEnv.Map(redis);
        var args = redis["command"].Strings.Concat(redis["args"].Strings).Select(a => ContainerEnv.Expand(a, env)).ToList();
        var i = args.IndexOf("--requirepass");
        Assert.True(i >= 0 && i + 1 < args.Count, "Redis starts without --requirepass: anyone who reaches it can register a member");
        var password = args[i + 1];
        Assert.True(SecretMarker().IsMatch(password), $"Redis's password is '{password}', not a value from a Secret");
        return password;
    }

    [Fact]
    public void Redis_requires_a_password_from_a_Secret_and_its_probe_gives_it()
    {
        var password = RedisPassword();
        var redis = Assert.Single(M.Single("StatefulSet", "redis").Containers);
        var env = ContainerEnv.Map(redis);
        Assert.True(env.TryGetValue("REDISCLI_AUTH", out var auth) && auth == password,
            $"redis-cli in the Redis container has no password (REDISCLI_AUTH {(auth is null ? "unset" : auth)}): the readiness probe would get NOAUTH");
        var probe = string.Join(" ", redis.At("readinessProbe.exec.command").Strings);
        Assert.True(probe.Contains("redis-cli", StringComparison.Ordinal), $"Redis's readiness probe ({probe}) does not ask Redis");
        // redis-cli exits 0 on an error reply too: only the reply tells NOAUTH from PONG.
        Assert.True(probe.Contains("PONG", StringComparison.Ordinal), $"Redis's readiness probe ({probe}) passes on any reply, NOAUTH and LOADING included");
    }

    [Fact]
    public void Both_members_give_Redis_the_password_from_the_same_Secret()
    {
        var password = RedisPassword();
        Assert.Equal(2, RoleContainer.All.Count);
        foreach (var c in RoleContainer.All)
        {
            var config = c.Settings["Cluster:Redis"] ?? "";
            // StackExchange.Redis: endpoints, then name=value options after commas.
            var options = config.Split(',').Skip(1).Select(o => o.Split('=', 2)).Where(kv => kv.Length == 2)
                .ToDictionary(kv => kv[0].Trim(), kv => kv[1].Trim(), StringComparer.OrdinalIgnoreCase);
            Assert.True(options.TryGetValue("password", out var given), $"{c}: Cluster:Redis '{config}' gives Redis no password");
            Assert.True(given == password,
                $"{c}: Cluster:Redis gives the password {given}, Redis expects {password} (a $(VAR) left as written is declared below its use)");
        }
    }

    [Fact]
    public void Every_member_reads_its_TLS_material_from_the_cluster_TLS_Secret()
    {
        Assert.Equal(2, RoleContainer.All.Count);
        foreach (var c in RoleContainer.All)
        {
            foreach (var (setting, key) in TlsFiles)
            {
                var path = c.Settings[setting];
                Assert.False(string.IsNullOrEmpty(path), $"{c}: {setting} is not set, and off loopback a member without TLS material refuses to start");
                var file = M.FileAt(c.Workload, c.Container, path!);
                Assert.True(file is not null, $"{c}: {setting} is {path}, where no Secret is mounted");
                Assert.True(file!.SourceKind == "secret" && file.SourceName == TlsSecret && file.Key == key,
                    $"{c}: {setting} ({path}) is {file}, not secret {TlsSecret} key {key}");
                Assert.True(file.ReadOnly, $"{c}: {path} is mounted writable");
                AssertReadable(c, file, path!, secret: setting == "Cluster:Tls:Key");
            }
        }
    }

    [Fact]
    public void The_Node_reads_its_tag_keys_from_the_tag_key_Secret_which_updates_in_place()
    {
        var node = RoleContainer.Of(Role.Node);
        var path = node.Settings["Node:TagKeyFile"];
        Assert.False(string.IsNullOrEmpty(path), "Node:TagKeyFile is not set: the Node would have no key to sign and check tags with");
        var file = M.FileAt(node.Workload, node.Container, path!);
        Assert.True(file is not null, $"Node:TagKeyFile is {path}, where no Secret is mounted");
        Assert.True(file!.SourceKind == "secret" && file.SourceName == TagKeySecret && file.Key == "keys",
            $"Node:TagKeyFile ({path}) is {file}, not secret {TagKeySecret} key keys");
        // A rotation is an edit of the Secret: a subPath mount would never see it.
        Assert.True(file.UpdatesInPlace, $"{path} is mounted with subPath, so a key rotation would need a restart");
        Assert.True(file.ReadOnly, $"{path} is mounted writable");
        AssertReadable(node, file, path!, secret: true);
    }

    [Fact]
    public void The_README_creates_every_Secret_the_manifests_read_with_the_keys_they_read()
    {
        var wanted = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        void Want(string? name, string? key)
        {
            if (name is null || key is null)
                return;
            if (!wanted.TryGetValue(name, out var keys))
                wanted[name] = keys = new HashSet<string>(StringComparer.Ordinal);
            keys.Add(key);
        }
        foreach (var workload in M.Workloads)
        {
            foreach (var env in workload.AllContainers.SelectMany(c => c["env"].Items))
                Want(env.At("valueFrom.secretKeyRef.name").Text, env.At("valueFrom.secretKeyRef.key").Text);
            foreach (var volume in workload.PodSpec["volumes"].Items)
            {
                var secrets = volume["secret"].Exists
                    ? [(volume.At("secret.secretName").Text, volume.At("secret.items"))]
                    : volume.At("projected.sources").Items.Where(s => s["secret"].Exists).Select(s => (s.At("secret.name").Text, s.At("secret.items"))).ToList();
                foreach (var (name, items) in secrets)
                {
                    Assert.True(items.Items.Any(), $"{workload}: Secret {name} is mounted without items, so the keys it must hold are not written down");
                    foreach (var item in items.Items)
                        Want(name, item["key"].Text);
                }
            }
        }
        Assert.Equal(["flowmesh-cluster-tls", "flowmesh-gateway-token", "flowmesh-redis", "flowmesh-tag-key"], wanted.Keys.Order(StringComparer.Ordinal));

        var commands = ReadmeCommands();
        foreach (var (name, keys) in wanted)
        {
            Assert.DoesNotContain(M.Objects, o => o.Kind == "Secret" && o.Name == name);
            var create = commands.Where(l => l.Contains($"create secret generic {name} ", StringComparison.Ordinal)).ToList();
            Assert.True(create.Count > 0, $"deploy/README.md never creates the Secret {name}");
            foreach (var key in keys)
                Assert.True(create.Any(l => l.Contains($"--from-literal={key}=", StringComparison.Ordinal) || l.Contains($"--from-file={key}=", StringComparison.Ordinal)),
                    $"deploy/README.md creates {name} without the key {key}");
        }
    }

    [Fact]
    public void Systemd_members_read_TLS_material_and_tag_keys_their_group_may_read_and_the_README_installs()
    {
        var readme = ReadmeCommands();
        foreach (var unit in SystemdUnit.All)
        {
            var role = SystemdTests.RoleOf(unit);
            var settings = Settings.Defaults(role).WithFile(Repo.PathOf("deploy", "systemd", Path.GetFileName(unit.ConfigFile!)));
            // DynamicUser's uid changes from start to start: the files are given to a fixed group the service joins.
            var groups = unit.Words("Service", "SupplementaryGroups");
            Assert.True(groups.Count == 1, $"{unit} joins {groups.Count} supplementary groups; the TLS key's group is the one it needs");
            var group = groups.Single();
            Assert.True(readme.Any(l => l.Contains($"groupadd --system {group}", StringComparison.Ordinal)), $"deploy/README.md never creates the group {group} that {unit} joins");
            var keys = TlsFiles.Select(f => f.Setting).ToList();
            if (role == Role.Node)
                keys.Add("Node:TagKeyFile");
            foreach (var key in keys)
            {
                var path = settings[key];
                Assert.False(string.IsNullOrEmpty(path), $"{unit}: {key} is not set in {Path.GetFileName(unit.ConfigFile!)}");
                var install = readme.Where(l => l.Contains("install ", StringComparison.Ordinal) && l.TrimEnd().EndsWith($" {path}", StringComparison.Ordinal)).ToList();
                Assert.True(install.Count > 0, $"deploy/README.md installs nothing at {path} ({unit}: {key})");
                foreach (var line in install)
                {
                    Assert.Contains($"-g {group}", line, StringComparison.Ordinal);
                    // Readable by root and the group, by no one else.
                    Assert.Matches(@"-m 0?[46]40\b", line);
                }
            }
        }
    }

    [Fact]
    public void Systemd_env_files_show_the_Redis_password_in_the_configuration_string()
    {
        foreach (var unit in SystemdUnit.All)
        {
            var lines = SystemdTests.EnvironmentFiles(unit).SelectMany(File.ReadAllLines).ToList();
            Assert.Contains(lines, l => RedisWithPassword().IsMatch(l));
        }
    }

    /// <summary>The file is readable by the container's process, and if <paramref name="secret"/>, by no other user.</summary>
    private static void AssertReadable(RoleContainer c, MountedFile file, string path, bool secret)
    {
        var mode = file.Mode;
        if (secret)
            Assert.True((mode & 0b111) == 0, $"{c}: {path} has mode {Convert.ToString(mode, 8)}, readable by every user of the container");
        var uid = c.Container.At("securityContext.runAsUser").Int ?? c.Workload.PodSpec.At("securityContext.runAsUser").Int;
        var fsGroup = c.Workload.PodSpec.At("securityContext.fsGroup").Int;
        // The kubelet's files belong to root; with an fsGroup they also belong to that group,
        // which the process is in, and the kubelet adds read for the group.
        var readable = uid == 0
            ? (mode & 0b100_000_000) != 0
            : (mode & 0b000_000_100) != 0 || fsGroup is not null;
        Assert.True(readable, $"{c}: {path} has mode {Convert.ToString(mode, 8)}, which its process (uid {uid?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "of the image"}, fsGroup {fsGroup?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}) cannot read");
    }

    /// <summary>deploy/README.md's lines, continuation lines (ending in \) joined.</summary>
    private static List<string> ReadmeCommands()
    {
        var lines = new List<string>();
        var pending = "";
        foreach (var line in File.ReadAllLines(Repo.PathOf("deploy", "README.md")))
        {
            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }
            lines.Add(pending + line);
            pending = "";
        }
        return lines;
    }

    [GeneratedRegex(@"^\$\(secret:[^/)]+/[^)]+\)$")]
    private static partial Regex SecretMarker();

    [GeneratedRegex(@"^#?FLOWMESH_CLUSTER__REDIS=[^,\s]+:\d+,(.*,)?password=")]
    private static partial Regex RedisWithPassword();
}
