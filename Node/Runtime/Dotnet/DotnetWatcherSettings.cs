namespace FlowMesh.Node.Runtime.Dotnet;

/// <summary>How a <see cref="DotnetRuntimeWatcher"/> watches one process (bindable from configuration).</summary>
public sealed class DotnetWatcherSettings
{
    /// <summary>Pauses kept per process; older ones are shed and counted.</summary>
    public int PauseCapacity { get; set; } = 1024;

    /// <summary>
    /// Seconds between the runtime's counter samples. They carry the thread-pool queue length
    /// and are the stream's heartbeat: an idle process's horizon moves only with them.
    /// </summary>
    public int CounterIntervalSeconds { get; set; } = 1;

    /// <summary>The EventPipe buffer in the target process (MB); when the Node reads too slowly events are dropped there, and counted.</summary>
    public int BufferMegabytes { get; set; } = 8;

    /// <summary>How long connecting and starting the session may take.</summary>
    public TimeSpan AttachTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long stopping the session and draining its stream may take before the stream is cut.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(2);
}
