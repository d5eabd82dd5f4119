using System.Globalization;

namespace FlowMesh.Node.Flows;

/// <summary>
/// A flow's id is <c>{host}/{cookie}</c>, and socket cookies start again at every boot, so
/// the cookie a flow is published under carries the boot: its top 16 bits are the first
/// four hex digits of the host's boot id (<c>/proc/sys/kernel/random/boot_id</c>), above
/// the kernel's cookie (a counter that stays far below 2^48 within one boot). A flow from
/// before a reboot then keeps its record, and its saved state is never restored into a
/// new connection that happens to reuse its cookie.
/// </summary>
public static class FlowIds
{
    private const int BootShift = 48;
    private const ulong KernelMask = (1UL << BootShift) - 1;

    /// <summary>This boot's bits, already shifted into place.</summary>
    public static ulong Boot { get; } = BootBits(ReadBootId());

    /// <summary>The cookie a flow is published under: the kernel's cookie with this boot's bits.</summary>
    public static ulong Published(ulong kernelCookie) => (kernelCookie & KernelMask) | Boot;

    /// <summary>The kernel's cookie inside a published one.</summary>
    public static ulong Kernel(ulong publishedCookie) => publishedCookie & KernelMask;

    /// <summary>Whether a published cookie is of this boot (a saved state from an earlier boot is not).</summary>
    public static bool IsThisBoot(ulong publishedCookie) => (publishedCookie & ~KernelMask) == Boot;

    public static ulong BootBits(string bootId) =>
        bootId.Length >= 4 && ushort.TryParse(bootId.AsSpan(0, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var high)
            ? (ulong)high << BootShift
            : 0;

    private static string ReadBootId()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }
}
