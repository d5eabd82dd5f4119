using System.Runtime.InteropServices;
using System.Text;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Kernel.Native;

namespace FlowMesh.Node.Kernel;

/// <summary>
/// The loaded BPF object: programs, one ring buffer per CPU and the per-CPU counters.
/// Lifecycle: <see cref="Load"/> (verifies, creates rings), then <see cref="Attach"/>
/// (events start), <see cref="ReportExistingSockets"/> (one pass over open sockets),
/// <see cref="Detach"/> (events stop) and <see cref="Dispose"/>.
/// </summary>
public sealed unsafe partial class KernelCapture : IDisposable
{
    private const string ConfigSection = ".rodata.config";
    private const string RingsMap = "fm_rings";
    private const string CountersMap = "fm_counters";
    private const string TagKeyMap = "fm_tag_key";
    private const string ExistingProgram = "fm_existing";
    private const string ListenersProgram = "fm_listeners";
    private const string ReportProgram = "fm_report";
    private const string SockOpsProgram = "fm_sockops";
    private const string GoScheduleProgram = "fm_go_execute";
    private static readonly string[] AcceptPrograms = ["fm_accept4", "fm_accept"];
    private static readonly string[] RunQueuePrograms = ["fm_rq_wakeup", "fm_rq_wakeup_new", "fm_rq_switch"];
    private const int VerifierLogBytes = 16 << 20;

    private nint _object;
    private readonly List<nint> _links = [];
    private readonly List<RingBuffer> _rings = [];
    private readonly int _countersFd;

    public CaptureOptions Options { get; }
    public NetworkNamespace Namespace { get; }
    public int PossibleCpus { get; }

    /// <summary>Why accept() is not reported (null: it is, or it was not asked for).</summary>
    public string? AcceptUnavailable { get; private set; }

    /// <summary>The runtime tables the kernel programs fill (run-queue and Go histograms).</summary>
    public RuntimeMaps RuntimeMaps { get; }
    internal IReadOnlyList<RingBuffer> Rings => _rings;

    private KernelCapture(nint obj, CaptureOptions options, NetworkNamespace ns, int cpus)
    {
        _object = obj;
        Options = options;
        Namespace = ns;
        PossibleCpus = cpus;
        _countersFd = LibBpf.bpf_map__fd(FindMap(CountersMap));
        RuntimeMaps = new RuntimeMaps(
            LibBpf.bpf_map__fd(FindMap(RuntimeMaps.RunQueueHistograms)),
            LibBpf.bpf_map__fd(FindMap(RuntimeMaps.RunQueueStarts)),
            LibBpf.bpf_map__fd(FindMap(RuntimeMaps.GoProcesses)),
            LibBpf.bpf_map__fd(FindMap(RuntimeMaps.GoHistograms)));
    }

    /// <summary>
    /// Checks the requirements, opens and verifies the programs, and creates one ring per
    /// CPU. Nothing is attached yet. Throws <see cref="CaptureStartException"/> with a
    /// one-line reason on any failure (the verifier's log goes to a file it names).
    /// </summary>
    public static KernelCapture Load(CaptureOptions options)
    {
        CaptureRequirements.Check(options);
        ValidateOptions(options);
        var ns = NetworkNamespace.Resolve(options.NetNs);
        LibBpfLog.Install();

        var path = options.ResolvedBpfObjectPath;
        var obj = LibBpf.bpf_object__open_file(path, 0);
        if (obj == 0)
            throw new CaptureStartException($"cannot open BPF object {path}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");

        KernelCapture? capture = null;
        var logBuffer = (byte*)NativeMemory.AllocZeroed(VerifierLogBytes);
        try
        {
            var cpus = LibBpf.libbpf_num_possible_cpus();
            if (cpus <= 0)
                throw new CaptureStartException($"cannot count this machine's CPUs: {LibC.ErrorText(-cpus)}");

            WriteConfig(obj, options, ns);
            var template = CreateRing(options.RingBytes, "fm_ring_tmpl");
            try
            {
                var rings = FindMapIn(obj, RingsMap);
                Check(LibBpf.bpf_map__set_max_entries(rings, (uint)cpus), "size the ring buffer array");
                Check(LibBpf.bpf_map__set_inner_map_fd(rings, template), "set the ring buffer template");

                SizeRuntimeMaps(obj, options.Runtime);
                for (var prog = LibBpf.bpf_object__next_program(obj, 0); prog != 0; prog = LibBpf.bpf_object__next_program(obj, prog))
                {
                    _ = LibBpf.bpf_program__set_log_buf(prog, logBuffer, VerifierLogBytes);
                    if (!Wanted(LibBpf.NameOf(prog), options.Runtime))
                        _ = LibBpf.bpf_program__set_autoload(prog, false);
                }

                var err = LibBpf.bpf_object__load(obj);
                if (err < 0)
                    throw VerifierRejected(err, logBuffer);
            }
            finally
            {
                LibC.close(template); // the outer map keeps its own reference to the template's shape
            }

            capture = new KernelCapture(obj, options, ns, cpus);
            capture.CreateRings();
            return capture;
        }
        catch
        {
            if (capture is not null)
                capture.Dispose();
            else
                LibBpf.bpf_object__close(obj);
            throw;
        }
        finally
        {
            NativeMemory.Free(logBuffer);
        }
    }

    /// <summary>
    /// Attaches every event program (from now on the kernel writes records) and the
    /// trace-tag program, at the root of the cgroup v2 hierarchy so it sees every
    /// socket of the kernel (it acts only on this capture's namespace). Does nothing if attached.
    /// </summary>
    public void Attach()
    {
        if (_links.Count > 0)
            return;
        var acceptReady = false;
        if (Options.Runtime.Accept)
        {
            acceptReady = Tracefs.EnsureMounted(out var noTracefs);
            AcceptUnavailable = noTracefs;
        }
        for (var prog = LibBpf.bpf_object__next_program(_object, 0); prog != 0; prog = LibBpf.bpf_object__next_program(_object, prog))
        {
            var name = LibBpf.NameOf(prog);
            // The Go probe is attached per binary (AttachUprobe); disabled programs were never loaded.
            if (name == ExistingProgram || name == ListenersProgram || name == ReportProgram || name == GoScheduleProgram || !Wanted(name, Options.Runtime))
                continue;
            var accept = AcceptPrograms.Contains(name);
            if (accept && !acceptReady)
                continue;
            var link = name == SockOpsProgram ? AttachToCgroupRoot(prog) : LibBpf.bpf_program__attach(prog);
            if (link == 0)
            {
                var error = LibC.ErrorText(Marshal.GetLastPInvokeError());
                if (!accept)
                    throw new CaptureStartException($"cannot attach BPF program {name}: {error}");
                // accept() reporting is an addition: without it, servers are named by their listener's owner, as before.
                AcceptUnavailable ??= $"cannot attach the syscall tracepoint {name}: {error}";
                continue;
            }
            _links.Add(link);
        }
    }

    /// <summary>
    /// Attaches the Go scheduling probe at <paramref name="fileOffset"/> of the executable
    /// (runtime.execute), for every process that runs it. Returns the link (detach with
    /// <see cref="DetachUprobe"/>), or 0 and the reason.
    /// </summary>
    public nint AttachGoScheduleProbe(string binaryPath, ulong fileOffset, out string? error)
    {
        var link = LibBpf.bpf_program__attach_uprobe(FindProgram(GoScheduleProgram), false, -1, binaryPath, (nuint)fileOffset);
        error = link == 0 ? LibC.ErrorText(Marshal.GetLastPInvokeError()) : null;
        return link;
    }

    public static void DetachUprobe(nint link) => _ = LibBpf.bpf_link__destroy(link);

    private static bool Wanted(string? program, RuntimeCaptureOptions runtime) =>
        (runtime.Accept || !AcceptPrograms.Contains(program)) && (runtime.RunQueue || !RunQueuePrograms.Contains(program));

    private static void SizeRuntimeMaps(nint obj, RuntimeCaptureOptions runtime)
    {
        Check(LibBpf.bpf_map__set_max_entries(FindMapIn(obj, RuntimeMaps.RunQueueHistograms), runtime.MaxProcesses), "size the run-queue histograms");
        Check(LibBpf.bpf_map__set_max_entries(FindMapIn(obj, RuntimeMaps.RunQueueStarts), runtime.MaxThreads), "size the run-queue table");
        Check(LibBpf.bpf_map__set_max_entries(FindMapIn(obj, RuntimeMaps.GoProcesses), runtime.MaxProcesses), "size the Go process table");
        Check(LibBpf.bpf_map__set_max_entries(FindMapIn(obj, RuntimeMaps.GoHistograms), runtime.MaxProcesses), "size the Go histograms");
    }

    private static nint AttachToCgroupRoot(nint prog)
    {
        var root = CaptureRequirements.FindCgroup2Mount()
            ?? throw new CaptureStartException("cgroup v2 is not mounted (no cgroup2 entry in /proc/mounts): mount it with `mount -t cgroup2 none /sys/fs/cgroup/unified`");
        var fd = LibC.open(root, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        if (fd < 0)
            throw new CaptureStartException($"cannot open the cgroup v2 root {root}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        try
        {
            return LibBpf.bpf_program__attach_cgroup(prog, fd);
        }
        finally
        {
            LibC.close(fd); // the link keeps the cgroup
        }
    }

    /// <summary>Detaches every program: once this returns, no new record is written.</summary>
    public void Detach()
    {
        foreach (var link in _links)
            _ = LibBpf.bpf_link__destroy(link);
        _links.Clear();
    }

    /// <summary>The kernel-side counters, one entry per possible CPU.</summary>
    public KernelCountersRecord[] ReadKernelCounters()
    {
        var result = new KernelCountersRecord[PossibleCpus];
        // A per-CPU map returns one value per possible CPU, each rounded up to 8 bytes.
        var stride = (sizeof(KernelCountersRecord) + 7) & ~7;
        var buffer = new byte[stride * PossibleCpus];
        var key = 0u;
        fixed (byte* values = buffer)
        {
            if (LibBpf.bpf_map_lookup_elem(_countersFd, &key, values) < 0)
                return result;
            for (var cpu = 0; cpu < PossibleCpus; cpu++)
                result[cpu] = *(KernelCountersRecord*)(values + cpu * stride);
        }
        return result;
    }

    /// <summary>Writes the key the sock_ops program signs new tags with (none: random tags).</summary>
    public void SetTagKey(Flows.TagAuthenticator.Key? key)
    {
        var record = key is { } k ? new TagKeyRecord { K0 = k.K0, K1 = k.K1, Enabled = 1 } : default;
        var index = 0u;
        Check(LibBpf.bpf_map_update_elem(LibBpf.bpf_map__fd(FindMap(TagKeyMap)), &index, &record, 0), "set the trace tag key");
    }

    private void CreateRings()
    {
        var outer = LibBpf.bpf_map__fd(FindMap(RingsMap));
        for (var cpu = 0; cpu < PossibleCpus; cpu++)
        {
            var fd = CreateRing(Options.RingBytes, $"fm_ring_{cpu}");
            try
            {
                var key = (uint)cpu;
                Check(LibBpf.bpf_map_update_elem(outer, &key, &fd, 0), $"install the ring buffer of CPU {cpu}");
                _rings.Add(new RingBuffer(fd, Options.RingBytes));
            }
            catch
            {
                LibC.close(fd);
                throw;
            }
        }
    }

    private static int CreateRing(uint bytes, string name)
    {
        var fd = LibBpf.bpf_map_create(LibBpf.BPF_MAP_TYPE_RINGBUF, name, 0, 0, bytes, 0);
        if (fd < 0)
            throw new CaptureStartException($"cannot create a {bytes}-byte ring buffer: {LibC.ErrorText(-fd)}");
        return fd;
    }

    private static void WriteConfig(nint obj, CaptureOptions options, NetworkNamespace ns)
    {
        var map = FindMapIn(obj, ConfigSection);
        nuint size;
        var data = LibBpf.bpf_map__initial_value(map, &size);
        if (data is null || size < (nuint)sizeof(CaptureConfigRecord))
            throw new CaptureStartException($"the BPF object's {ConfigSection} section is missing or too small: rebuild with `dotnet build Node`");

        var config = new CaptureConfigRecord
        {
            NetNsInode = ns.Inode,
            NetNsCookie = ns.Cookie(),
            InjectTag = options.InjectTag ? 1u : 0u,
            SelfTgid = options.ExcludeOwnProcess ? (uint)Environment.ProcessId : 0,
            WakeupBytes = options.ResolvedWakeupBytes,
            Runtime = options.Runtime.RunQueue ? CaptureConfigRecord.RuntimeFlags.RunQueue : CaptureConfigRecord.RuntimeFlags.None,
            IncludeCount = (ushort)options.IncludePorts.Count,
            ExcludeCount = (ushort)options.ExcludePorts.Count,
        };
        for (var i = 0; i < options.IncludePorts.Count; i++)
            config.IncludePorts[i] = options.IncludePorts[i];
        for (var i = 0; i < options.ExcludePorts.Count; i++)
            config.ExcludePorts[i] = options.ExcludePorts[i];
        *(CaptureConfigRecord*)data = config;
    }

    private static void ValidateOptions(CaptureOptions options)
    {
        var page = (uint)LibC.getpagesize();
        if (options.RingBytes < page || (options.RingBytes & (options.RingBytes - 1)) != 0)
            throw new CaptureStartException($"ring buffer size {options.RingBytes} must be a power of two and at least {page} bytes");
        if (options.IncludePorts.Count > CaptureConfigRecord.MaxPorts || options.ExcludePorts.Count > CaptureConfigRecord.MaxPorts)
            throw new CaptureStartException($"at most {CaptureConfigRecord.MaxPorts} ports can be included and {CaptureConfigRecord.MaxPorts} excluded");
        if (options.PollMs is < 1 or > 10_000)
            throw new CaptureStartException($"poll interval {options.PollMs} ms must be between 1 and 10000");
        if (options.BatchSize is < 1 or > 65_536)
            throw new CaptureStartException($"batch size {options.BatchSize} must be between 1 and 65536");
    }

    private static CaptureStartException VerifierRejected(int err, byte* logBuffer)
    {
        var log = Marshal.PtrToStringUTF8((nint)logBuffer) ?? "";
        var text = new StringBuilder()
            .AppendLine("# libbpf warnings")
            .AppendJoin('\n', LibBpfLog.RecentWarnings()).AppendLine()
            .AppendLine("# verifier log of the program that failed")
            .Append(log)
            .ToString();
        var file = VerifierLogFile.Write(text) ?? "(could not be written)";
        var reason = LibC.ErrorText(-err);
        return new CaptureStartException($"the kernel refused FlowMesh's BPF programs ({reason}); verifier log: {file}");
    }

    private nint FindMap(string name) => FindMapIn(_object, name);

    private static nint FindMapIn(nint obj, string name)
    {
        var map = LibBpf.bpf_object__find_map_by_name(obj, name);
        if (map == 0)
            throw new CaptureStartException($"the BPF object has no map {name}: rebuild with `dotnet build Node`");
        return map;
    }

    private nint FindProgram(string name)
    {
        for (var prog = LibBpf.bpf_object__next_program(_object, 0); prog != 0; prog = LibBpf.bpf_object__next_program(_object, prog))
        {
            if (LibBpf.NameOf(prog) == name)
                return prog;
        }
        throw new CaptureStartException($"the BPF object has no program {name}: rebuild with `dotnet build Node`");
    }

    private static void Check(int result, string what)
    {
        if (result < 0)
            throw new CaptureStartException($"cannot {what}: {LibC.ErrorText(-result)}");
    }

    public void Dispose()
    {
        Detach();
        foreach (var ring in _rings)
            ring.Dispose();
        _rings.Clear();
        if (_object != 0)
        {
            LibBpf.bpf_object__close(_object);
            _object = 0;
        }
    }
}
