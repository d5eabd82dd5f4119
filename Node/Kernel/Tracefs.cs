using System.Runtime.InteropServices;
using FlowMesh.Node.Kernel.Native;

namespace FlowMesh.Node.Kernel;

/// <summary>
/// The tracing filesystem, which libbpf reads to attach a tracepoint (its event id) and
/// which many hosts do not mount. Only the syscall tracepoints need it: the TCP and
/// scheduler programs attach as raw tracepoints, by name.
/// </summary>
internal static class Tracefs
{
    private const string Path = "/sys/kernel/tracing";
    private const string DebugfsPath = "/sys/kernel/debug/tracing";

    /// <summary>True when tracefs is there (mounting it if it is not); otherwise the one-line reason.</summary>
    public static bool EnsureMounted(out string? whyNot)
    {
        whyNot = null;
        if (Directory.Exists(System.IO.Path.Combine(Path, "events")) || Directory.Exists(System.IO.Path.Combine(DebugfsPath, "events")))
            return true;
        if (LibC.mount("nodev", Path, "tracefs", 0, 0) == 0 && Directory.Exists(System.IO.Path.Combine(Path, "events")))
            return true;
        whyNot = $"tracefs is not mounted and mounting it at {Path} failed ({LibC.ErrorText(Marshal.GetLastPInvokeError())}): " +
            $"mount it (`mount -t tracefs nodev {Path}`; in a container, mount the host's {Path})";
        return false;
    }
}
