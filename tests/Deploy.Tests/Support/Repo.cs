namespace FlowMesh.Deploy.Tests.Support;

/// <summary>The repository these tests read: found by walking up from the test binary to FlowMesh.sln.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string Read(params string[] parts) => File.ReadAllText(PathOf(parts));

    /// <summary>A path relative to the root, with forward slashes, for messages.</summary>
    public static string Relative(string path) => Path.GetRelativePath(Root, path).Replace('\\', '/');

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FlowMesh.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"FlowMesh.sln not found above {AppContext.BaseDirectory}");
    }
}
