using System.Xml.Linq;

namespace FlowMesh.Deploy.Tests.Support;

/// <summary>A FlowMesh program that deploy/ runs: its project, assembly and default settings.</summary>
internal sealed record Role(string ProjectDirectory, string ProjectPath, string AssemblyName)
{
    public static readonly Role Node = FromProject("Node", "FlowMesh.Node.csproj");
    public static readonly Role Aggregator = FromProject("Aggregator", "FlowMesh.Aggregator.csproj");

    public static IReadOnlyList<Role> All { get; } = [Node, Aggregator];

    public string AppSettingsPath => Repo.PathOf(ProjectDirectory, "appsettings.json");

    public XDocument Project => XDocument.Load(ProjectPath);

    /// <summary>The role whose assembly is named so (FlowMesh.Node), or null.</summary>
    public static Role? ByAssembly(string assemblyName) =>
        All.FirstOrDefault(r => string.Equals(r.AssemblyName, assemblyName, StringComparison.Ordinal));

    public override string ToString() => AssemblyName;

    private static Role FromProject(string directory, string file)
    {
        var path = Repo.PathOf(directory, file);
        var project = XDocument.Load(path);
        var assembly = project.Descendants("AssemblyName").Select(e => e.Value.Trim()).FirstOrDefault()
            ?? Path.GetFileNameWithoutExtension(path);
        return new Role(directory, path, assembly);
    }
}
