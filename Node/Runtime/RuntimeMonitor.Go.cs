using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Kernel;
using FlowMesh.Node.Kernel.Native;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Node.Runtime;

/// <summary>Go processes: recognised from their binary, told to the kernel programs (goid offset), and probed when Node:Runtime:Go is on.</summary>
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
            if (_binaries.Count < _settings.MaxProcesses)
                _binaries[identity] = go;
        }
        if (go is null)
            return;
        process.Kind = "go";
        process.Go = go;
        var record = new GoProcessRecord { GoidOffset = (uint)go.GoidOffset };
        if (_settings.Go && AttachGoProbe(process, identity, exe, go))
        {
            record.Flags = GoProcessRecord.ScheduleFlag;
            process.GoScheduleTraced = true;
            CreateGoHistogram(process.Tgid);
        }
        unsafe
        {
            var tgid = process.Tgid;
            if (LibBpf.bpf_map_update_elem(_kernel.RuntimeMaps.GoProcessesFd, &tgid, &record, 0) < 0)
                process.Note = "the kernel's Go process table is full (Node:Runtime:MaxProcesses)";
        }
    }

    private bool AttachGoProbe(ProcessRuntime process, FileIdentity identity, string exe, GoBinary go)
    {
        if (_goProbes.ContainsKey(identity))
            return true;
        if (go.CasgstatusFileOffset == 0)
        {
            process.Note = "runtime.casgstatus is not in the binary's symbol table (stripped?): goroutine scheduling is not timed";
            return false;
        }
        var link = _kernel.AttachGoScheduleProbe(exe, go.CasgstatusFileOffset, out var error);
        if (link == 0)
        {
            process.Note = $"cannot attach the Go scheduling probe: {error}";
            _logger.LogWarning("Go process {Pid} ({Comm}): cannot attach the uprobe on runtime.casgstatus: {Error}", process.Tgid, process.Comm, error);
            return false;
        }
        _goProbes[identity] = link;
        _logger.LogInformation("Go process {Pid} ({Comm}, {Version}): goroutine scheduling is timed (uprobe on runtime.casgstatus)", process.Tgid, process.Comm, go.GoVersion);
        return true;
    }

    private unsafe void CreateGoHistogram(uint tgid)
    {
        var zero = default(RuntimeHistogramRecord);
        _ = LibBpf.bpf_map_update_elem(_kernel.RuntimeMaps.GoHistogramsFd, &tgid, &zero, BpfNoExist);
    }

    /// <summary>Deletes the runnable-goroutine entries of Go processes that exited (their probe never fires again for them).</summary>
    private unsafe void PruneGoroutines()
    {
        if (_goProbes.Count == 0)
            return;
        var fd = _kernel.RuntimeMaps.GoRunnableFd;
        var stale = new List<GoKey>();
        GoKey key = default, next;
        var first = true;
        while (LibBpf.bpf_map_get_next_key(fd, first ? null : &key, &next) == 0 && stale.Count < 1 << 20)
        {
            if (!_processes.ContainsKey(next.Tgid))
                stale.Add(next);
            key = next;
            first = false;
        }
        foreach (var k in stale)
        {
            var copy = k;
            _ = LibBpf.bpf_map_delete_elem(fd, &copy);
        }
    }

    private void DetachGoProbes()
    {
        foreach (var link in _goProbes.Values)
            KernelCapture.DetachUprobe(link);
        _goProbes.Clear();
    }

    /// <summary>Mirror of <c>struct fm_go_key</c> (bpf/capture.bpf.c).</summary>
    private struct GoKey
    {
        public uint Tgid;
        public uint Pad;
        public ulong G;
    }
}
