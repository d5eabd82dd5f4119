using System.Collections.Concurrent;
using FlowMesh.Node.Kernel;
using FlowMesh.Node.Runtime;

namespace FlowMesh.Node.Identity;

/// <summary>
/// Names the cgroup a record's task ran in. The kernel gives its cgroup v2 id, which is the
/// inode of the cgroup's directory: the process's /proc/PID/cgroup gives a candidate path
/// (checked against that inode, since a process may have moved), and when the process is
/// gone, one walk of the cgroup tree maps every directory's inode to its path (at most every
/// <see cref="RescanEvery"/>: cgroups of exited short-lived units are gone by then anyway;
/// sooner, every <see cref="NewCgroupRescan"/>, for an id above every id the last walk saw:
/// the kernel numbers cgroups upwards, so that one was made since, as when a unit starts
/// and its first short-lived process has exited before its record is read).
/// Shared by the flow shards; bounded to <c>Node:MaxCgroups</c> names (past it the table
/// starts over, counted in <see cref="Resets"/>).
/// </summary>
public sealed class CgroupResolver(string? cgroupRoot, int maxCgroups)
{
    private static readonly TimeSpan RescanEvery = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan NewCgroupRescan = TimeSpan.FromMilliseconds(100);

    private readonly ConcurrentDictionary<ulong, CgroupWorkload> _names = new();
    private readonly Lock _scanLock = new();
    private long? _lastScanMs;
    private ulong _highestScanned;
    private long _unresolved;
    private long _resets;

    /// <summary>The cgroup2 mount, or null (no cgroup v2: nothing is resolved).</summary>
    public static CgroupResolver ForThisHost(int maxCgroups) => new(CaptureRequirements.FindCgroup2Mount(), maxCgroups);

    /// <summary>Lookups that found no cgroup with that id (it was removed before it could be read).</summary>
    public long Unresolved => Interlocked.Read(ref _unresolved);

    /// <summary>Times the table reached its bound and started over.</summary>
    public long Resets => Interlocked.Read(ref _resets);

    public CgroupWorkload Resolve(ulong cgroupId, int tgid)
    {
        if (cgroupId == 0 || cgroupRoot is null)
            return CgroupWorkload.Unknown;
        if (_names.TryGetValue(cgroupId, out var known))
            return known;
        var scanned = false;
        var path = FromProcess(cgroupId, tgid) ?? FromScan(cgroupId, out scanned);
        if (path is null)
        {
            Interlocked.Increment(ref _unresolved);
            // Gone from the whole tree: remembered as unknown, so its later records cost no file reads.
            if (scanned)
                Remember(cgroupId, CgroupWorkload.Unknown);
            return CgroupWorkload.Unknown;
        }
        var workload = CgroupPaths.Parse(path);
        Remember(cgroupId, workload);
        return workload;
    }

    private void Remember(ulong cgroupId, CgroupWorkload workload)
    {
        if (_names.Count >= maxCgroups)
        {
            _names.Clear();
            Interlocked.Increment(ref _resets);
        }
        _names[cgroupId] = workload;
    }

    private string? FromProcess(ulong cgroupId, int tgid)
    {
        if (tgid <= 0)
            return null;
        try
        {
            var path = CgroupPaths.FromProcCgroup(File.ReadAllText($"/proc/{tgid}/cgroup"));
            // On a hybrid host whose unified hierarchy is unused, every task is in its root; the
            // path is then systemd's own (v1) one, the only one that names the unit.
            return path is not null && (InodeOf(path) == cgroupId || InodeOf("/") == cgroupId) ? path : null;
        }
        catch (IOException)
        {
            return null; // the process is gone
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private ulong? InodeOf(string path) =>
        FileIdentity.TryGet(cgroupRoot + (path == "/" ? "" : path), out var id) ? id.Inode : null;

    /// <summary>One walk of the cgroup tree, remembering every directory it finds; then the one wanted, if it exists.</summary>
    private string? FromScan(ulong cgroupId, out bool scanned)
    {
        scanned = false;
        lock (_scanLock)
        {
            if (_names.TryGetValue(cgroupId, out var known))
                return known.Path.Length > 0 ? known.Path : null;
            var now = Environment.TickCount64;
            var every = cgroupId > _highestScanned ? NewCgroupRescan : RescanEvery;
            if (now - _lastScanMs < every.TotalMilliseconds)
                return null;
            _lastScanMs = now;
            scanned = true;
            string? found = null;
            var pending = new Stack<string>();
            pending.Push("/");
            while (pending.Count > 0 && _names.Count < maxCgroups)
            {
                var path = pending.Pop();
                if (InodeOf(path) is { } inode)
                {
                    _highestScanned = Math.Max(_highestScanned, inode);
                    if (inode == cgroupId)
                        found = path;
                    else
                        _names.TryAdd(inode, CgroupPaths.Parse(path));
                }
                try
                {
                    foreach (var child in Directory.EnumerateDirectories(cgroupRoot + (path == "/" ? "" : path)))
                        pending.Push((path == "/" ? "/" : path + "/") + System.IO.Path.GetFileName(child));
                }
                catch (IOException)
                {
                    // removed while walking
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
            return found;
        }
    }
}
