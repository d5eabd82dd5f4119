using System.Runtime.InteropServices;
using FlowMesh.Node.Kernel.Native;

namespace FlowMesh.Node.Kernel;

/// <summary>A network namespace to capture, identified the way the kernel records it: by its nsfs inode.</summary>
public sealed class NetworkNamespace
{
    private NetworkNamespace(string description, string? path, uint inode)
    {
        Description = description;
        Path = path;
        Inode = inode;
    }

    /// <summary>Every namespace on this kernel (inode 0 disables the filter).</summary>
    public static NetworkNamespace All { get; } = new("all", null, 0);

    public string Description { get; }

    /// <summary>A path whose file is the namespace (for setns); null for <see cref="All"/>.</summary>
    public string? Path { get; }

    public uint Inode { get; }

    public bool IsAll => Inode == 0;

    public override string ToString() => IsAll ? "all namespaces" : $"{Description} (net:[{Inode}])";

    /// <summary>
    /// Resolves <c>self</c>, <c>all</c>, a name created by <c>ip netns add</c>, or a path.
    /// Throws <see cref="CaptureStartException"/> with a one-line reason if it does not exist.
    /// </summary>
    public static NetworkNamespace Resolve(string? spec)
    {
        if (string.IsNullOrEmpty(spec) || spec == "self")
            return FromPath("self", "/proc/self/ns/net");
        if (spec == "all")
            return All;
        if (spec.Contains('/'))
            return FromPath(spec, spec);
        foreach (var dir in new[] { "/run/netns", "/var/run/netns" })
        {
            var candidate = System.IO.Path.Combine(dir, spec);
            if (File.Exists(candidate))
                return FromPath(spec, candidate);
        }
        throw new CaptureStartException(
            $"network namespace '{spec}' not found in /run/netns (create it with `ip netns add {spec}`, or pass a path such as /proc/PID/ns/net)");
    }

    private static NetworkNamespace FromPath(string description, string path)
    {
        if (!TryGetInode(path, out var inode))
            throw new CaptureStartException($"network namespace {path} cannot be read: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        return new NetworkNamespace(description, path, inode);
    }

    /// <summary>
    /// The namespace's cookie (SO_NETNS_COOKIE of a socket made inside it): what the
    /// sockops program can compare, since it cannot see the namespace's inode.
    /// 0 for <see cref="All"/>.
    /// </summary>
    public ulong Cookie()
    {
        if (IsAll)
            return 0;
        return RunInside(() =>
        {
            using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            Span<byte> value = stackalloc byte[8];
            probe.GetRawSocketOption(1 /* SOL_SOCKET */, 71 /* SO_NETNS_COOKIE */, value);
            return BitConverter.ToUInt64(value);
        });
    }

    /// <summary>
    /// Runs <paramref name="action"/> on a thread that has joined this namespace, for
    /// kernel calls that act on the caller's namespace (the socket iterator). The
    /// thread ends afterwards, so no pooled thread is ever left in another namespace.
    /// </summary>
    public T RunInside<T>(Func<T> action)
    {
        if (IsAll || Path is null)
            return action();
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                var fd = LibC.open(Path, LibC.O_RDONLY | LibC.O_CLOEXEC);
                if (fd < 0)
                    throw new CaptureStartException($"cannot open network namespace {Path}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
                try
                {
                    if (LibC.setns(fd, LibC.CLONE_NEWNET) < 0)
                        throw new CaptureStartException($"cannot enter network namespace {Path}: {LibC.ErrorText(Marshal.GetLastPInvokeError())} (needs CAP_SYS_ADMIN)");
                }
                finally
                {
                    LibC.close(fd);
                }
                result = action();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        }) { IsBackground = true, Name = "flowmesh-netns" };
        thread.Start();
        thread.Join();
        if (failure is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        return result;
    }

    // statx rather than stat: its struct layout is the same on every architecture.
    private static unsafe bool TryGetInode(string path, out uint inode)
    {
        const int AtFdCwd = -100;
        const uint StatxIno = 0x100;
        var buffer = stackalloc byte[256];
        inode = 0;
        if (LibC.statx(AtFdCwd, path, 0, StatxIno, buffer) != 0)
            return false;
        inode = (uint)*(ulong*)(buffer + 32); // struct statx: stx_ino at offset 32
        return true;
    }
}
