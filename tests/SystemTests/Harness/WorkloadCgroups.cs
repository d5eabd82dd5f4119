using System.Globalization;
using FlowMesh.Node.Kernel;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// cgroup v2 groups the test lays out as a workload's would be (a unit, a container's
/// scope, a kubelet pod), all under a slice of the test's own at the hierarchy's root, so a
/// real host's groups are never touched. Disposing kills what still runs in them and
/// removes them, the deepest first (the kernel removes only empty groups).
/// </summary>
internal sealed class WorkloadCgroups : IDisposable
{
    private readonly string _root;
    private readonly List<string> _made = [];

    private WorkloadCgroups(string root, string slice) => (_root, Slice) = (root, slice);

    /// <summary>The slice's name, e.g. fm-test-1234-5f3a.slice.</summary>
    public string Slice { get; }

    public static WorkloadCgroups Create()
    {
        var root = CaptureRequirements.FindCgroup2Mount() ?? throw new XunitException("cgroup v2 is not mounted: this test makes cgroup v2 groups");
        var cgroups = new WorkloadCgroups(root, $"fm-test-{Environment.ProcessId}-{Random.Shared.Next(1 << 20):x}.slice");
        cgroups.Make("");
        return cgroups;
    }

    /// <summary>Makes the group at <paramref name="relative"/> below the slice (and those above it); returns its cgroup.procs.</summary>
    public string Make(string relative)
    {
        var path = Path.Combine(_root, Slice);
        foreach (var part in relative.Split('/', StringSplitOptions.RemoveEmptyEntries).Prepend(""))
        {
            path = part.Length == 0 ? path : Path.Combine(path, part);
            if (!Directory.Exists(path))
            {
                Directory.CreateDirectory(path);
                _made.Add(path);
            }
        }
        return Path.Combine(path, "cgroup.procs");
    }

    /// <summary>The group's path as the kernel and /proc/PID/cgroup name it, e.g. /fm-test-1234-5f3a.slice/x.service.</summary>
    public string PathOf(string relative) => $"/{Slice}/{relative}".TrimEnd('/');

    public void Dispose()
    {
        foreach (var group in Enumerable.Reverse(_made))
        {
            foreach (var pid in File.Exists(Path.Combine(group, "cgroup.procs")) ? File.ReadAllLines(Path.Combine(group, "cgroup.procs")) : [])
            {
                try
                {
                    System.Diagnostics.Process.GetProcessById(int.Parse(pid, CultureInfo.InvariantCulture)).Kill();
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                    // gone already
                }
            }
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (Directory.Exists(group))
            {
                try
                {
                    Directory.Delete(group);
                }
                catch (IOException) when (DateTime.UtcNow < deadline)
                {
                    Thread.Sleep(100); // its processes are still exiting
                }
                catch (IOException)
                {
                    break; // a process would not die: left for the next run's look
                }
            }
        }
    }
}
