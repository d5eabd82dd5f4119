namespace FlowMesh.Node.Runtime.Dotnet;

/// <summary>
/// A process as the probe saw it.
/// </summary>
/// <param name="Pid">The process as the Node (the host's pid namespace) sees it.</param>
/// <param name="Status">Whether it can be watched, and if not why.</param>
/// <param name="NamespacePid">The process's own pid, in its innermost pid namespace: the one in its socket's name.</param>
/// <param name="SocketPath">The diagnostics socket, through /proc/{pid}/root so that a container's /tmp is reached; null unless attachable.</param>
/// <param name="MonotonicOffsetNs">The process's time namespace's CLOCK_MONOTONIC offset: what it reads minus what the host reads (0 outside a time namespace).</param>
/// <param name="Detail">One line for a person: why the process is not attachable, or where its socket is.</param>
public readonly record struct DotnetProbeResult(
    int Pid,
    DotnetProbeStatus Status,
    int NamespacePid,
    string? SocketPath,
    long MonotonicOffsetNs,
    string Detail);
