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
    FlowMesh.Hosting.CertsCommand.Create(),
};

return await FlowMesh.Hosting.CommandLineRunner.RunAsync(root, args).ConfigureAwait(false);
