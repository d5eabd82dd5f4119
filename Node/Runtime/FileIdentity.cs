using FlowMesh.Node.Kernel.Native;

namespace FlowMesh.Node.Runtime;

/// <summary>A file's device and inode: one executable seen through many /proc/PID/exe links (and mount namespaces) is one binary.</summary>
internal readonly record struct FileIdentity(uint DevMajor, uint DevMinor, ulong Inode)
{
    // statx rather than stat: its struct layout is the same on every architecture.
    public static unsafe bool TryGet(string path, out FileIdentity identity)
    {
        const int AtFdCwd = -100;
        const uint StatxIno = 0x100;
        var buffer = stackalloc byte[256];
        identity = default;
        if (LibC.statx(AtFdCwd, path, 0, StatxIno, buffer) != 0)
            return false;
        // struct statx: stx_ino at 32, stx_dev_major at 136, stx_dev_minor at 140
        identity = new FileIdentity(*(uint*)(buffer + 136), *(uint*)(buffer + 140), *(ulong*)(buffer + 32));
        return true;
    }
}
