using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// A memory cgroup of the test's own with a limit, on whichever hierarchy the host has:
/// cgroup v1's memory controller (this machine: <c>memory.limit_in_bytes</c>) or cgroup
/// v2 (<c>memory.max</c>). Removed when disposed (its processes must have exited).
/// </summary>
internal sealed class MemoryCgroup : IDisposable
{
    private const string V1 = "/sys/fs/cgroup/memory";
    private const string V2 = "/sys/fs/cgroup";
    private readonly bool _v1;

    private MemoryCgroup(string path, bool v1) => (Path, _v1) = (path, v1);

    public string Path { get; }

    /// <summary>Write a pid here to move that process in.</summary>
    public string ProcsFile => System.IO.Path.Combine(Path, "cgroup.procs");

    public static MemoryCgroup Create(string name, long limitBytes)
    {
        var v1 = File.Exists(System.IO.Path.Combine(V1, "memory.limit_in_bytes"));
        if (!v1 && !(File.Exists(System.IO.Path.Combine(V2, "cgroup.controllers")) && File.ReadAllText(System.IO.Path.Combine(V2, "cgroup.controllers")).Contains("memory", StringComparison.Ordinal)))
            throw new XunitException("this test runs a process under a memory limit: neither cgroup v1's memory controller nor cgroup v2 with memory is mounted under /sys/fs/cgroup");
        var path = System.IO.Path.Combine(v1 ? V1 : V2, $"{name}-{Environment.ProcessId}-{Random.Shared.Next(1 << 20):x}");
        Directory.CreateDirectory(path);
        var cgroup = new MemoryCgroup(path, v1);
        try
        {
            File.WriteAllText(System.IO.Path.Combine(path, v1 ? "memory.limit_in_bytes" : "memory.max"), $"{limitBytes}");
            return cgroup;
        }
        catch
        {
            cgroup.Dispose();
            throw;
        }
    }

    /// <summary>The most memory its processes used at once.</summary>
    public long PeakBytes => long.Parse(File.ReadAllText(System.IO.Path.Combine(Path, _v1 ? "memory.max_usage_in_bytes" : "memory.peak")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Processes the kernel killed for the limit.</summary>
    public long OomKills
    {
        get
        {
            var file = System.IO.Path.Combine(Path, _v1 ? "memory.oom_control" : "memory.events");
            var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith("oom_kill ", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line["oom_kill ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path);
        }
        catch (IOException)
        {
            // still has a process (a test that failed before stopping it): the kernel removes an empty group only
        }
    }
}
