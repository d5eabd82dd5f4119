namespace FlowMesh.Node.Runtime.Dotnet;

/// <summary>What <see cref="DotnetProcessProbe.Probe"/> found about a process.</summary>
public enum DotnetProbeStatus
{
    /// <summary>A .NET process with a diagnostics socket to connect to.</summary>
    Attachable,
    /// <summary>The process does not exist (any more), or /proc does not show it to us.</summary>
    Gone,
    /// <summary>No .NET runtime is loaded in the process.</summary>
    NotDotnet,
    /// <summary>A .NET process started with DOTNET_EnableDiagnostics=0 (or _IPC=0): it opened no socket.</summary>
    DiagnosticsDisabled,
    /// <summary>A .NET process whose socket is not where its TMPDIR says (a runtime still starting, or a socket moved by DOTNET_DiagnosticPorts).</summary>
    NoSocket,
}
