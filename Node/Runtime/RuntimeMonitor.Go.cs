using System.Globalization;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Kernel;
using FlowMesh.Node.Kernel.Native;
using Microsoft.Extensions.Logging;

using FlowMesh.Node.Runtime.Go;

namespace FlowMesh.Node.Runtime;

/// <summary>Go processes: recognised from their binary, told to the kernel programs (where the runtime keeps what they read), probed when Node:Runtime:Go is on.</summary>
internal sealed partial class RuntimeMonitor
{
    private const ulong BpfNoExist = 1;

    // One entry per distinct executable (bounded by the processes watched; binaries rarely change).
    private readonly Dictionary<FileIdentity, GoBinary?> _binaries = [];
    private readonly Dictionary<FileIdentity, nint> _goProbes = [];

    private void InspectGo(ProcessRuntime process)
    {
        var exe = $"/proc/{process.Tgid}/exe";
        if (!FileIdentity.TryGet(exe, out var identity))
            return;
        if (!_binaries.TryGetValue(identity, out var go))
        {
            go = GoBinaryReader.TryRead(exe, out _);
            if (_binaries.Count < settings.MaxProcesses)
                _binaries[identity] = go;
        }
        if (go is null)
            return;
        process.Kind = "go";
        process.Go = go;
        var record = new GoProcessRecord { GoidOffset = (uint)go.GoidOffset };
        if (settings.Go)
        {
            if (go.Scheduler is not { } layout)
                process.Note = $"{go.GoVersion}: where its scheduler keeps goroutine timestamps is not known (no DWARF, and not a verified release): goroutine scheduling is not timed";
            else if (LoadBase(process.Tgid, identity, layout) is not { } load)
                process.Note = "its executable's load address is not in /proc/PID/maps: goroutine scheduling is not timed";
            else if (AttachGoProbe(process, identity, exe, go, layout))
            {
                record.Flags = GoProcessRecord.ScheduleFlag;
                record.GTrackingOffset = (uint)layout.GTracking;
                record.GRunnableStampOffset = (uint)layout.GRunnableStamp;
                record.SchedAddress = layout.SchedAddress + load;
                record.AllpAddress = layout.AllpAddress + load;
                record.SchedRunqSizeOffset = (uint)layout.SchedRunqSize;
                record.PRunqHeadOffset = (uint)layout.PRunqHead;
                record.PRunqTailOffset = (uint)layout.PRunqTail;
                record.PRunnextOffset = (uint)layout.PRunnext;
                process.GoScheduleTraced = true;
                CreateGoHistogram(process.Tgid);
            }
        }
        unsafe
        {
            var tgid = process.Tgid;
            if (LibBpf.bpf_map_update_elem(kernel.RuntimeMaps.GoProcessesFd, &tgid, &record, 0) < 0)
                process.Note = "the kernel's Go process table is full (Node:Runtime:MaxProcesses)";
        }
    }

    private bool AttachGoProbe(ProcessRuntime process, FileIdentity identity, string exe, GoBinary go, GoSchedulerLayout layout)
    {
        if (_goProbes.ContainsKey(identity))
            return true;
        if (layout.ExecuteFileOffset == 0)
        {
            process.Note = "runtime.execute is not in the binary's symbol table: goroutine scheduling is not timed";
            return false;
        }
        var link = kernel.AttachGoScheduleProbe(exe, layout.ExecuteFileOffset, out var error);
        if (link == 0)
        {
            process.Note = $"cannot attach the Go scheduling probe: {error}";
            logger.LogWarning("Go process {Pid} ({Comm}): cannot attach the uprobe on runtime.execute: {Error}", process.Tgid, process.Comm, error);
            return false;
        }
        _goProbes[identity] = link;
        logger.LogInformation("Go process {Pid} ({Comm}, {Version}): goroutine scheduling is timed (uprobe on runtime.execute)", process.Tgid, process.Comm, go.GoVersion);
        return true;
    }

    /// <summary>
    /// What to add to the binary's addresses in this process: 0 for a fixed-address
    /// executable; for a position-independent one, where its first segment is mapped less
    /// the address it was linked at.
    /// </summary>
    private static ulong? LoadBase(uint tgid, FileIdentity binary, GoSchedulerLayout layout)
    {
        if (!layout.PositionIndependent)
            return 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{tgid}/maps"))
            {
                // start-end perms offset dev inode path; the inode, not the path: the process may see another mount namespace
                var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length >= 5 && fields[2] == "00000000" && ulong.TryParse(fields[4], CultureInfo.InvariantCulture, out var inode) && inode == binary.Inode)
                    return ulong.Parse(fields[0].Split('-')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture) - layout.FirstLoadAddress;
            }
        }
        catch (IOException)
        {
            // the process left
        }
        return null;
    }

    private unsafe void CreateGoHistogram(uint tgid)
    {
        var zero = default(RuntimeHistogramRecord);
        _ = LibBpf.bpf_map_update_elem(kernel.RuntimeMaps.GoHistogramsFd, &tgid, &zero, BpfNoExist);
    }

    private void DetachGoProbes()
    {
        foreach (var link in _goProbes.Values)
            KernelCapture.DetachUprobe(link);
        _goProbes.Clear();
    }
}
