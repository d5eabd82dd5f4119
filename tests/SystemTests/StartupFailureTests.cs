using System.Diagnostics;
using FlowMesh.SystemTests.Harness;

namespace FlowMesh.SystemTests;

/// <summary>A capture that cannot start says why in one line and exits non-zero.</summary>
public sealed class StartupFailureTests
{
    [Fact]
    public async Task Without_privileges_capture_prints_one_line_and_exits_non_zero()
    {
        KernelTestRequirements.Require();
        // As "nobody", with no capabilities at all.
        var info = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/tmp",
        };
        foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "dotnet", KernelTestRequirements.NodeAssembly, "capture" })
            info.ArgumentList.Add(a);
        info.Environment["HOME"] = "/tmp";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        var (exitCode, stdout, stderr) = await NodeCommand.RunAsync(info);

        Assert.NotEqual(0, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("flowmesh: error: missing CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN (running as uid 65534): run as root", line, StringComparison.Ordinal);
        Assert.Equal("", stdout);
    }

    [Fact]
    public async Task A_verifier_rejection_saves_the_log_to_a_file_and_names_it()
    {
        KernelTestRequirements.Require();
        var rejected = Path.Combine(AppContext.BaseDirectory, "capture-rejected.bpf.o");
        var (exitCode, _, stderr) = await NodeCommand.RunAsync(NodeCommand.StartInfo(["capture", "--bpf-object", rejected]));

        Assert.Equal(1, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("flowmesh: error: the kernel refused FlowMesh's BPF programs (", line, StringComparison.Ordinal);
        var path = line[(line.LastIndexOf("verifier log: ", StringComparison.Ordinal) + "verifier log: ".Length)..];
        try
        {
            var log = await File.ReadAllTextAsync(path);
            Assert.Contains("fm_state", log, StringComparison.Ordinal);              // which program
            Assert.Contains("invalid mem access", log, StringComparison.Ordinal);     // the verifier's own words
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task An_unknown_namespace_is_a_one_line_error()
    {
        KernelTestRequirements.Require();
        var (exitCode, _, stderr) = await NodeCommand.RunAsync(NodeCommand.StartInfo(["capture", "--netns", "flowmesh-test-no-such-ns"]));

        Assert.Equal(1, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("flowmesh: error: network namespace 'flowmesh-test-no-such-ns' not found in /run/netns " +
            "(create it with `ip netns add flowmesh-test-no-such-ns`, or pass a path such as /proc/PID/ns/net)", line);
    }
}
