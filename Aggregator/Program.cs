using System.CommandLine;
using FlowMesh.Aggregator.Cli;

var root = new RootCommand("""
    FlowMesh Aggregator: joins the two ends of every connection, seen on two hosts, into
    one end-to-end session, and keeps them in Redis.
    """)
{
    RunCommand.Create(),
    SessionCommands.Create(),
    TagsCommand.Create(),
    ObserveCommand.Create(),
    FlowMesh.Hosting.CertsCommand.Create(),
};

return await FlowMesh.Hosting.CommandLineRunner.RunAsync(root, args).ConfigureAwait(false);
