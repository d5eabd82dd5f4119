using System.Globalization;
using FlowMesh.Deploy.Tests.Support;

namespace FlowMesh.Deploy.Tests;

/// <summary>The systemd units start what deploy/README.md publishes and installs, with the files it installs.</summary>
public sealed class SystemdTests
{
    private const string SettingsDirectory = "/etc/flowmesh";

    private static readonly string[] ReadmeLines = File.ReadAllLines(Repo.PathOf("deploy", "README.md"));

    /// <summary>The role a unit starts, from the program its ExecStart names.</summary>
    internal static Role RoleOf(SystemdUnit unit)
    {
        var program = unit.ExecStart.Count > 0 ? unit.ExecStart[0] : null;
        Assert.True(program is not null, $"{unit} has no ExecStart");
        var role = Role.ByAssembly(Path.GetFileName(program!));
        Assert.True(role is not null, $"{unit}: ExecStart runs {program}, which no project of the repository builds");
        return role!;
    }

    /// <summary>The files of deploy/systemd a unit's EnvironmentFile= lines name (each must exist).</summary>
    internal static IEnumerable<string> EnvironmentFiles(SystemdUnit unit)
    {
        foreach (var value in unit.Values("Service", "EnvironmentFile"))
        {
            var installed = value.TrimStart('-');
            Assert.Equal(SettingsDirectory, Path.GetDirectoryName(installed));
            var shipped = Repo.PathOf("deploy", "systemd", Path.GetFileName(installed));
            Assert.True(File.Exists(shipped), $"{unit}: EnvironmentFile {installed} has no example {Repo.Relative(shipped)}");
            yield return shipped;
        }
    }

    private static string ShippedConfig(SystemdUnit unit)
    {
        var config = unit.ConfigFile;
        Assert.True(config is not null, $"{unit}: ExecStart passes no --config");
        Assert.Equal(SettingsDirectory, Path.GetDirectoryName(config));
        var shipped = Repo.PathOf("deploy", "systemd", Path.GetFileName(config!));
        Assert.True(File.Exists(shipped), $"{unit}: --config {config} is not shipped as {Repo.Relative(shipped)}");
        return shipped;
    }

    private static Settings SettingsOf(SystemdUnit unit) => Settings.Defaults(RoleOf(unit)).WithFile(ShippedConfig(unit));

    [Fact]
    public void Units_have_their_sections_and_run_a_program_of_the_repository()
    {
        Assert.Equal(2, SystemdUnit.All.Count);
        foreach (var unit in SystemdUnit.All)
        {
            Assert.Equal(["Install", "Service", "Unit"], unit.Sections.Order(StringComparer.Ordinal));
            Assert.StartsWith("/", unit.ExecStart[0], StringComparison.Ordinal);
            RoleOf(unit);
            Assert.Equal("run", unit.ExecStart[1]);
            Assert.Equal("multi-user.target", unit.Value("Install", "WantedBy"));
        }
    }

    [Fact]
    public void The_README_publishes_self_contained_and_copies_to_where_ExecStart_looks()
    {
        foreach (var unit in SystemdUnit.All)
        {
            var role = RoleOf(unit);
            var installDir = Path.GetDirectoryName(unit.ExecStart[0])!;
            var publish = ReadmeLines.SingleOrDefault(l => l.StartsWith($"dotnet publish {role.ProjectDirectory} ", StringComparison.Ordinal));
            Assert.True(publish is not null, $"deploy/README.md does not publish {role.ProjectDirectory}");
            // ExecStart runs the program directly: without a .NET runtime on the host, only a self-contained build starts.
            Assert.Contains("--self-contained", publish, StringComparison.Ordinal);
            var words = publish!.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var output = words[Array.IndexOf(words, "-o") + 1];
            Assert.Contains(ReadmeLines, l => l.Contains(" cp ", StringComparison.Ordinal) && l.Contains($" {output} ", StringComparison.Ordinal) && l.TrimEnd().EndsWith($" {installDir}", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Settings_and_environment_files_the_units_name_are_shipped_and_installed_by_the_README()
    {
        foreach (var unit in SystemdUnit.All)
        {
            var config = Path.GetFileName(ShippedConfig(unit));
            Assert.Contains(ReadmeLines, l => IsInstall(l, config));
            var envFiles = EnvironmentFiles(unit).ToList();
            Assert.NotEmpty(envFiles);
            foreach (var envFile in envFiles)
            {
                // The Aggregator's holds the gateway token: readable by root only (systemd reads it before dropping privileges).
                var install = ReadmeLines.SingleOrDefault(l => IsInstall(l, Path.GetFileName(envFile)));
                Assert.True(install is not null, $"deploy/README.md does not install {Repo.Relative(envFile)}");
                Assert.Contains("-m 600", install, StringComparison.Ordinal);
            }
            Assert.Contains(ReadmeLines, l => IsInstall(l, Path.GetFileName(unit.Path)) && l.TrimEnd().EndsWith(" /etc/systemd/system/", StringComparison.Ordinal));
            Assert.Contains(ReadmeLines, l => l.Contains($"systemctl enable --now {Path.GetFileNameWithoutExtension(unit.Path)}", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void The_Node_unit_has_the_capabilities_the_capture_checks_for_and_the_Aggregator_none()
    {
        foreach (var unit in SystemdUnit.All)
        {
            var user = unit.Value("Service", "User");
            var ambient = unit.Words("Service", "AmbientCapabilities");
            var bounding = unit.Words("Service", "CapabilityBoundingSet");
            if (RoleOf(unit) == Role.Node)
            {
                if (user is "root" or null && unit.Value("Service", "DynamicUser") != "yes")
                    continue; // root holds every capability
                Assert.True(Code.CaptureCanStart(ambient), $"{unit}: AmbientCapabilities {string.Join(" ", ambient)} do not pass CaptureRequirements");
                Assert.True(ambient.IsSubsetOf(bounding), $"{unit}: CapabilityBoundingSet drops some of the AmbientCapabilities");
            }
            else
            {
                Assert.Equal("yes", unit.Value("Service", "DynamicUser"));
                Assert.Empty(ambient);
                Assert.Equal("", unit.Value("Service", "CapabilityBoundingSet"));
            }
        }
    }

    [Fact]
    public void Units_restart_on_failure_and_wait_out_the_shutdown()
    {
        var timeout = Code.ShutdownTimeout;
        foreach (var unit in SystemdUnit.All)
        {
            Assert.Equal("on-failure", unit.Value("Service", "Restart"));
            // The processes stop cleanly on SIGINT and SIGTERM (the generic host's console lifetime).
            Assert.Contains(unit.Value("Service", "KillSignal") ?? "SIGTERM", new[] { "SIGTERM", "SIGINT" });
            var stop = unit.Value("Service", "TimeoutStopSec");
            Assert.True(stop is not null && double.Parse(stop, CultureInfo.InvariantCulture) > timeout.TotalSeconds,
                $"{unit}: TimeoutStopSec {stop} would kill the process before its {timeout.TotalSeconds} s shutdown timeout");
        }
    }

    [Fact]
    public void Both_programs_fit_on_one_host_and_advertise_a_per_host_address()
    {
        var ports = new List<(string What, int Port)>();
        foreach (var unit in SystemdUnit.All)
        {
            var settings = SettingsOf(unit);
            ports.Add(($"{unit} Cluster:Port", int.Parse(settings["Cluster:Port"]!, CultureInfo.InvariantCulture)));
            if (RoleOf(unit) == Role.Aggregator)
                ports.Add(($"{unit} Gateway:Port", int.Parse(settings["Gateway:Port"]!, CultureInfo.InvariantCulture)));

            // Bound to every interface, a member must be told the address others dial; that is per host, so the env file says it.
            if (settings["Cluster:BindAddress"] is "0.0.0.0" or "::")
            {
                var lines = EnvironmentFiles(unit).SelectMany(File.ReadAllLines);
                Assert.Contains(lines, l => l.StartsWith("FLOWMESH_CLUSTER__ADVERTISEDADDRESS=", StringComparison.Ordinal));
            }
        }
        Assert.All(ports, p => Assert.True(p.Port > 0, $"{p.What} is 0 (any free port): nothing could reach it"));
        Assert.Equal(ports.Count, ports.Select(p => p.Port).Distinct().Count());
        Assert.Contains(ReadmeLines, l => l.Contains("FLOWMESH_CLUSTER__ADVERTISEDADDRESS", StringComparison.Ordinal));
    }

    [Fact]
    public void The_Node_unit_gives_the_verifier_log_the_directory_the_code_writes_to()
    {
        var unit = SystemdUnit.All.Single(u => RoleOf(u) == Role.Node);
        // LogsDirectory= makes the directory for the transient user and names it in LOGS_DIRECTORY, which the Node tries first.
        var logs = unit.Value("Service", "LogsDirectory");
        Assert.True(logs is not null, $"{unit} has no LogsDirectory: a verifier log would go to the service's private /tmp and vanish with it");
        Assert.Equal(Code.VerifierLogDirectory, $"/var/log/{logs}");
        Assert.Contains("\"LOGS_DIRECTORY\"", Repo.Read("Node", "Kernel", "VerifierLogFile.cs"), StringComparison.Ordinal);
    }

    private static bool IsInstall(string line, string fileName) =>
        line.Contains("install ", StringComparison.Ordinal) && line.Contains($"deploy/systemd/{fileName}", StringComparison.Ordinal);
}
