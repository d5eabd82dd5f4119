using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using FlowMesh.Node.Kernel.Native;

namespace FlowMesh.Node.Kernel;

/// <summary>
/// Routes libbpf's messages (which it would print to stderr) into FlowMesh: warnings
/// are kept for the diagnostics of a failed start, and shown live when verbose.
/// </summary>
internal static unsafe class LibBpfLog
{
    private static readonly Lock Gate = new();
    private static readonly Queue<string> Recent = new();
    private const int RecentLimit = 200;
    private static int _installed;

    /// <summary>Called with every message at or above <see cref="Verbosity"/>, when set.</summary>
    public static Action<string>? Echo { get; set; }

    /// <summary>LIBBPF_WARN (0), LIBBPF_INFO (1) or LIBBPF_DEBUG (2).</summary>
    public static int Verbosity { get; set; } = LibBpf.LIBBPF_WARN;

    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 0)
            LibBpf.libbpf_set_print(&Print);
    }

    /// <summary>The last warnings libbpf printed, oldest first.</summary>
    public static string[] RecentWarnings()
    {
        lock (Gate)
            return [.. Recent];
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Print(int level, byte* format, nint args)
    {
        if (level > LibBpf.LIBBPF_WARN && level > Verbosity)
            return 0;
        // Long messages (a verifier log) are cut here; the full log goes to a file via
        // bpf_program__set_log_buf, so only the gist is needed from this path.
        const int Capacity = 4096;
        var buffer = stackalloc byte[Capacity];
        var written = LibC.vsnprintf(buffer, Capacity, format, args);
        if (written <= 0)
            return 0;
        var message = Encoding.UTF8.GetString(buffer, Math.Min(written, Capacity - 1)).TrimEnd('\n');
        if (level == LibBpf.LIBBPF_WARN)
        {
            lock (Gate)
            {
                Recent.Enqueue(message);
                if (Recent.Count > RecentLimit)
                    Recent.Dequeue();
            }
        }
        if (level <= Verbosity)
            Echo?.Invoke(message);
        return 0;
    }
}
