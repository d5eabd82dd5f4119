namespace FlowMesh.Node.Runtime.Dotnet;

/// <summary>Where a <see cref="DotnetRuntimeWatcher"/> is. Every state but <see cref="Watching"/> is final.</summary>
public enum DotnetWatcherStatus
{
    /// <summary>The session runs and the stream is being read.</summary>
    Watching,
    /// <summary>The process has no .NET runtime: nothing to watch.</summary>
    NotDotnet,
    /// <summary>A .NET process that cannot be watched: diagnostics disabled, no socket, or gone before the attach.</summary>
    Unavailable,
    /// <summary>The session could not start (refused, permission, timeout), or its stream broke.</summary>
    Failed,
    /// <summary>The stream ended on its own: the process exited. Its pauses are all known.</summary>
    Ended,
    /// <summary>Disposed: the session was stopped.</summary>
    Stopped,
}
