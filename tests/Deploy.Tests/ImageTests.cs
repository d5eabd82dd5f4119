using System.Text.Json;
using FlowMesh.Deploy.Tests.Support;

namespace FlowMesh.Deploy.Tests;

/// <summary>The container build files: one per image the manifests run, each starting the program it is named for.</summary>
public sealed class ImageTests
{
    private static readonly Manifests M = Manifests.Instance;

    [Fact]
    public void Each_image_the_manifests_run_has_a_Dockerfile_naming_it()
    {
        var kustomized = M.Kustomization["images"].Items.Select(i => i["name"].Text).OfType<string>().Order(StringComparer.Ordinal).ToList();
        var built = Dockerfile.All.Select(d => d.Image).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(kustomized, built!);
        foreach (var image in M.Kustomization["images"].Items)
            Assert.True(image["newName"].Exists || image["newTag"].Exists, $"images: {image["name"]} retargets nothing");
    }

    [Fact]
    public void Each_Dockerfile_publishes_and_starts_the_assembly_of_its_role()
    {
        Assert.Equal(Role.All.Count, Dockerfile.All.Count);
        foreach (var dockerfile in Dockerfile.All)
        {
            var assembly = dockerfile.EntrypointAssembly;
            Assert.True(assembly is not null, $"{dockerfile}: no ENTRYPOINT in exec form");
            var role = Role.ByAssembly(assembly!);
            Assert.True(role is not null, $"{dockerfile}: ENTRYPOINT starts {assembly}, which no project builds");

            // The build stage publishes that project to a folder the final stage copies to its working directory.
                var words = PublishCommand(dockerfile);
            Assert.Equal(Path.GetFullPath(role!.ProjectPath), Path.GetFullPath(Repo.PathOf(words[2])));
            Assert.Contains("Release", words);
            var output = PublishOutput(dockerfile);

            var copy = dockerfile.Final.Instructions.SingleOrDefault(i => i.Keyword == "COPY" && i.Arguments.StartsWith("--from=", StringComparison.Ordinal));
            Assert.True(copy is not null, $"{dockerfile}: the final stage copies nothing from the build");
            var copyArgs = copy!.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(output, copyArgs[1]);
            var workdir = dockerfile.Final.Last("WORKDIR");
            Assert.True(copyArgs[2] is "./" or "." || copyArgs[2].TrimEnd('/') == workdir, $"{dockerfile}: the published files are not copied to WORKDIR {workdir}");

            var program = dockerfile.Entrypoint.Single(a => Path.GetFileName(a).StartsWith(assembly!, StringComparison.Ordinal));
            var full = program.StartsWith('/') ? program : $"{workdir}/{program}";
            Assert.Equal($"{workdir}/{assembly}.dll", full);
        }
    }

    [Fact]
    public void Node_image_builds_the_BPF_object_carries_it_beside_the_binary_and_has_libbpf()
    {
        var dockerfile = Dockerfile.All.Single(d => d.EntrypointAssembly == Role.Node.AssemblyName);
        var build = string.Join(" ", dockerfile.BuildStages.SelectMany(s => s.Runs));
        foreach (var tool in new[] { "clang", "llvm", "libbpf-dev", "bpftool", "make", "gcc" })
            Assert.Contains($" {tool} ", build + " ", StringComparison.Ordinal);

        // The csproj puts capture.bpf.o beside the binary; the build must prove publish carried it.
        var project = File.ReadAllText(Role.Node.ProjectPath);
        Assert.Contains("Link=\"capture.bpf.o\"", project, StringComparison.Ordinal);
        Assert.Contains($"test -f {PublishOutput(dockerfile)}/capture.bpf.o", build, StringComparison.Ordinal);

        Assert.Contains(dockerfile.Final.Runs, r => r.Contains(" libbpf1", StringComparison.Ordinal));
    }

    [Fact]
    public void Runtime_base_image_matches_the_target_framework_and_has_the_shared_frameworks_the_program_needs()
    {
        var tfm = System.Xml.Linq.XDocument.Load(Repo.PathOf("Directory.Build.props")).Descendants("TargetFramework").Single().Value;
        Assert.StartsWith("net", tfm, StringComparison.Ordinal);
        var version = tfm[3..];
        foreach (var dockerfile in Dockerfile.All)
        {
            var role = Role.ByAssembly(dockerfile.EntrypointAssembly!)!;
            foreach (var stage in dockerfile.Stages)
                Assert.Contains($":{version}", stage.BaseImage, StringComparison.Ordinal);
            Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:", dockerfile.Stages[0].BaseImage, StringComparison.Ordinal);

            var frameworks = NeededFrameworks(role);
            var runtime = dockerfile.Final.BaseImage;
            if (frameworks.Contains("Microsoft.AspNetCore.App"))
                Assert.True(runtime.StartsWith("mcr.microsoft.com/dotnet/aspnet:", StringComparison.Ordinal), $"{dockerfile}: {role} needs ASP.NET Core, {runtime} lacks it");
            else
                Assert.Matches("^mcr.microsoft.com/dotnet/(runtime|aspnet):", runtime);
        }
    }

    [Fact]
    public void Docker_build_context_leaves_out_build_output()
    {
        var ignore = File.ReadAllLines(Repo.PathOf(".dockerignore")).Select(l => l.Trim()).ToHashSet(StringComparer.Ordinal);
        foreach (var pattern in new[] { "**/bin", "**/obj", "bpf/build" })
            Assert.Contains(pattern, ignore);
        // Everything the images build from stays in the context.
        foreach (var needed in new[] { "Node", "Aggregator", "Cluster", "Contracts", "bpf", "Directory.Build.props", "Directory.Packages.props", "global.json" })
            Assert.DoesNotContain(needed, ignore);
    }

    /// <summary>The `dotnet publish` command of the build stages, split into words.</summary>
    private static string[] PublishCommand(Dockerfile dockerfile)
    {
        var publish = dockerfile.BuildStages.SelectMany(s => s.Runs).SelectMany(r => r.Split("&&")).Select(c => c.Trim())
            .SingleOrDefault(c => c.StartsWith("dotnet publish ", StringComparison.Ordinal));
        Assert.True(publish is not null, $"{dockerfile}: no `dotnet publish` in a build stage");
        return publish!.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    private static string PublishOutput(Dockerfile dockerfile)
    {
        var words = PublishCommand(dockerfile);
        var o = Array.IndexOf(words, "-o");
        Assert.True(o > 0 && o + 1 < words.Length, $"{dockerfile}: `dotnet publish` without -o");
        return words[o + 1];
    }

    /// <summary>
    /// The shared frameworks a program runs on: its project's FrameworkReferences, and,
    /// when it has been built, its runtimeconfig.json (packages bring frameworks too:
    /// Proto.Remote brings ASP.NET Core to the Node).
    /// </summary>
    private static HashSet<string> NeededFrameworks(Role role)
    {
        var frameworks = role.Project.Descendants("FrameworkReference").Select(e => e.Attribute("Include")?.Value).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var bin = Repo.PathOf(role.ProjectDirectory, "bin");
        if (!Directory.Exists(bin))
            return frameworks;
        var configs = Directory.EnumerateFiles(bin, $"{role.AssemblyName}.runtimeconfig.json", SearchOption.AllDirectories);
        foreach (var config in configs)
        {
            using var json = JsonDocument.Parse(File.ReadAllText(config));
            if (!json.RootElement.GetProperty("runtimeOptions").TryGetProperty("frameworks", out var list))
                continue; // self-contained: carries its frameworks
            foreach (var framework in list.EnumerateArray())
                frameworks.Add(framework.GetProperty("name").GetString()!);
        }
        return frameworks;
    }
}
