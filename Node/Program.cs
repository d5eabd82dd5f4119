using System.CommandLine;
using FlowMesh.Node.Cli;

var root = new RootCommand("""
    FlowMesh Node: the per-host agent. It sees every TCP connection on this host from
    SYN to FIN/RST with eBPF, without touching applications.
    """)
{
    RunCommand.Create(),
    ClientCommands.Flow(),
    ClientCommands.ClusterStatus(),
    CaptureCommand.Create(),
    BenchCommand.Create(),
    FlowMesh.Cluster.Hosting.CertsCommand.Create(),
};

// No termination timeout: System.CommandLine would otherwise end the process 2 s after
// Ctrl-C or SIGTERM, in the middle of a `run` host's orderly shutdown (its own signal
// handling, up to 30 s) or `capture`'s drain (ShutdownSignal).
// Start-up problems (TLS material, Redis credentials) are one line, not a stack trace.
try
{
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
}
catch (FlowMesh.Cluster.Hosting.StartupException e)
{
    await Console.Error.WriteLineAsync($"flowmesh: error: {e.Message}").ConfigureAwait(false);
    return 2;
}
