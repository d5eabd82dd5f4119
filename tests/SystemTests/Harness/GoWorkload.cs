using System.Collections.Concurrent;
using System.Reflection;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// The Go workload (<c>workloads/goserver</c>) built from the repository's source with
/// the machine's Go, once per distinct build per test run, into a directory that is
/// removed when the run ends.
/// </summary>
internal static class GoWorkload
{
    public const string Install = "scripts/install-deps.sh installs golang-go";

    private static readonly ConcurrentDictionary<string, Lazy<Task<string>>> _builds = new(StringComparer.Ordinal);
    private static readonly Lazy<string> _outputDirectory = new(CreateOutputDirectory);

    public static string RepoRoot { get; } =
        typeof(GoWorkload).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepoRoot").Value!;

    public static string SourceDirectory => Path.Combine(RepoRoot, "workloads", "goserver");

    /// <summary>The go command, or a failure that says how to get it.</summary>
    public static string Go => ToolRun.Require("go", Install);

    /// <summary>
    /// The path of goserver built with these linker flags (<c>-w</c>: no DWARF; <c>-s -w</c>:
    /// no symbol table either) for this GOARCH, in this build mode (<c>pie</c>: ET_DYN; the
    /// default is Go's ET_EXEC). The first build of a run compiles the standard library for
    /// a GOARCH or build mode other than the host's default (seconds); later ones are cached.
    /// </summary>
    public static Task<string> BuildAsync(string ldflags = "", string goarch = "amd64", TimeSpan? deadline = null, string buildmode = "")
    {
        var key = $"{goarch}|{ldflags}|{buildmode}";
        return _builds.GetOrAdd(key, _ => new Lazy<Task<string>>(() => RunBuildAsync(ldflags, goarch, buildmode, deadline ?? TimeSpan.FromMinutes(3)))).Value;
    }

    /// <summary>
    /// The environment every go command of the tests runs with: CGO off, so the linker
    /// links internally (no gcc, a static binary of the Go toolchain's making); a build
    /// cache under /tmp when HOME is unset (tests run as root, sometimes with no HOME);
    /// and no toolchain download, whatever a newer go.mod might ask for.
    /// </summary>
    public static IReadOnlyDictionary<string, string> GoEnvironment(string goarch = "amd64")
    {
        var env = new Dictionary<string, string>
        {
            ["CGO_ENABLED"] = "0",
            ["GOARCH"] = goarch,
            ["GOOS"] = "linux",
            ["GOFLAGS"] = "",
            ["GOTOOLCHAIN"] = "local",
        };
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("HOME")))
        {
            var root = Path.Combine(Path.GetTempPath(), "flowmesh-go");
            env["HOME"] = root;
            env["GOPATH"] = Path.Combine(root, "path");
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("GOCACHE")))
                env["GOCACHE"] = Path.Combine(root, "cache");
        }
        return env;
    }

    /// <summary>What <c>go version FILE</c> says built the binary: the independent truth for the version.</summary>
    public static async Task<string> VersionOfAsync(string binary)
    {
        var line = (await ToolRun.OutputAsync(Go, ["version", binary], TimeSpan.FromSeconds(30), GoEnvironment())).Trim();
        var prefix = binary + ": ";
        return line.StartsWith(prefix, StringComparison.Ordinal) ? line[prefix.Length..] : throw new Xunit.Sdk.XunitException($"go version said: {line}");
    }

    private static async Task<string> RunBuildAsync(string ldflags, string goarch, string buildmode, TimeSpan deadline)
    {
        var name = "goserver-" + goarch
            + (ldflags.Length == 0 ? "" : "-" + ldflags.Replace("-", "", StringComparison.Ordinal).Replace(' ', '-'))
            + (buildmode.Length == 0 ? "" : "-" + buildmode);
        var output = Path.Combine(_outputDirectory.Value, name);
        List<string> arguments = ["build", "-o", output];
        if (ldflags.Length > 0)
            arguments.Add("-ldflags=" + ldflags);
        if (buildmode.Length > 0)
            arguments.Add("-buildmode=" + buildmode);
        arguments.Add(".");
        await ToolRun.OutputAsync(Go, arguments, deadline, GoEnvironment(goarch), SourceDirectory);
        return output;
    }

    private static string CreateOutputDirectory()
    {
        var directory = Directory.CreateTempSubdirectory("flowmesh-goserver.").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // A binary still running from there: /tmp is cleaned at boot all the same.
            }
        };
        return directory;
    }
}
