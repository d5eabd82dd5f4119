using System.Text.Json;
using System.Text.RegularExpressions;

namespace FlowMesh.Deploy.Tests.Support;

/// <summary>One instruction of a Dockerfile, continuation lines joined.</summary>
internal sealed record DockerInstruction(string Keyword, string Arguments);

/// <summary>A build stage: its FROM image, its name, and its instructions.</summary>
internal sealed record DockerStage(string BaseImage, string? Name, IReadOnlyList<DockerInstruction> Instructions)
{
    public IEnumerable<string> Runs => Instructions.Where(i => i.Keyword == "RUN").Select(i => i.Arguments);

    public string? Last(string keyword) => Instructions.LastOrDefault(i => i.Keyword == keyword)?.Arguments;
}

/// <summary>A container build file of deploy/images, read the way the tests need it.</summary>
internal sealed partial class Dockerfile
{
    private Dockerfile(string path, string? image, IReadOnlyList<DockerStage> stages)
    {
        Path = path;
        Image = image;
        Stages = stages;
    }

    public string Path { get; }

    /// <summary>The image name its header names ("# Image: flowmesh/node, ...").</summary>
    public string? Image { get; }

    public IReadOnlyList<DockerStage> Stages { get; }

    public DockerStage Final => Stages[^1];

    /// <summary>Every stage but the final one.</summary>
    public IEnumerable<DockerStage> BuildStages => Stages.Take(Stages.Count - 1);

    /// <summary>The final stage's ENTRYPOINT, exec form.</summary>
    public IReadOnlyList<string> Entrypoint =>
        Final.Last("ENTRYPOINT") is { } json ? JsonSerializer.Deserialize<string[]>(json) ?? [] : [];

    /// <summary>The assembly the ENTRYPOINT starts: FlowMesh.Node for ["dotnet", "/app/FlowMesh.Node.dll"].</summary>
    public string? EntrypointAssembly =>
        Entrypoint.Select(a => System.IO.Path.GetFileName(a)).Where(a => a != "dotnet")
            .Select(a => a.EndsWith(".dll", StringComparison.Ordinal) ? a[..^4] : a).FirstOrDefault();

    public static IReadOnlyList<Dockerfile> All { get; } =
        [.. Directory.GetFiles(Repo.PathOf("deploy", "images"), "*Dockerfile").Order(StringComparer.Ordinal).Select(Parse)];

    public override string ToString() => Repo.Relative(Path);

    private static Dockerfile Parse(string path)
    {
        var lines = File.ReadAllLines(path);
        var image = lines.TakeWhile(l => l.StartsWith('#'))
            .Select(l => ImageHeader().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).FirstOrDefault();

        var instructions = new List<DockerInstruction>();
        var pending = "";
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (pending.Length == 0 && (line.Length == 0 || line.StartsWith('#')))
                continue;
            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }
            var full = (pending + line).Trim();
            pending = "";
            var space = full.IndexOf(' ', StringComparison.Ordinal);
            instructions.Add(space < 0
                ? new DockerInstruction(full.ToUpperInvariant(), "")
                : new DockerInstruction(full[..space].ToUpperInvariant(), full[(space + 1)..].Trim()));
        }

        var stages = new List<DockerStage>();
        foreach (var instruction in instructions)
        {
            if (instruction.Keyword == "FROM")
            {
                var parts = instruction.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var name = parts.Length >= 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? parts[2] : null;
                stages.Add(new DockerStage(parts[0], name, []));
            }
            else if (stages.Count > 0)
            {
                var last = stages[^1];
                stages[^1] = last with { Instructions = [.. last.Instructions, instruction] };
            }
        }
        return new Dockerfile(path, image, stages);
    }

    [GeneratedRegex(@"^#\s*Image:\s*([^\s,]+)", RegexOptions.IgnoreCase)]
    private static partial Regex ImageHeader();
}
