using System.CommandLine;
using FlowMesh.Bench;

var root = new RootCommand("""
    FlowMesh's benchmarks (BENCHMARKS.md): each prints progress on stderr and, as its last
    line on stdout, key=value results. Build with -c Release; those that trace need root.
    """);
foreach (var command in NodeBenchCommands.All().Concat(AggregatorBenchCommands.All()))
    root.Subcommands.Add(command);

return await FlowMesh.Hosting.CommandLineRunner.RunAsync(root, args).ConfigureAwait(false);
