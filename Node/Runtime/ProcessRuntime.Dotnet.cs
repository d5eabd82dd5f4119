using FlowMesh.Contracts.Messages;

namespace FlowMesh.Node.Runtime;

/// <summary>.NET processes: GC pauses from the runtime's diagnostics port (wired once the watcher lands).</summary>
internal sealed partial class ProcessRuntime
{
    private static void DescribeGc(FlowRuntime runtime, ulong startNs, ulong endNs)
    {
    }

    /// <summary>Its GC events have not yet been received up to <paramref name="ns"/>.</summary>
    public bool GcEventsBehind(ulong ns) => ns == 0 && Tgid == 0;
}
