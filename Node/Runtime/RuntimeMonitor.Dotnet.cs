using FlowMesh.Contracts.Messages;

namespace FlowMesh.Node.Runtime;

/// <summary>.NET processes: watched through their diagnostics port (EventPipe) for GC pauses and thread-pool queueing.</summary>
internal sealed partial class RuntimeMonitor
{
    private static Task InspectDotnetAsync(ProcessRuntime process) => Task.CompletedTask;

    private static void CollectGcPauses(ProcessRuntime process, long unixMs)
    {
    }

    private static void DescribeDotnet(ProcessRuntime process, ProcessRuntimeView view)
    {
    }

    private static ValueTask DisposeDotnetAsync(ProcessRuntime process) => ValueTask.CompletedTask;
}
