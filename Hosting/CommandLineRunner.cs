using System.CommandLine;
using FlowMesh.Cluster.Startup;

namespace FlowMesh.Hosting;

/// <summary>How every FlowMesh program runs its command line.</summary>
public static class CommandLineRunner
{
    /// <summary>
    /// Parses and runs <paramref name="args"/>. No termination timeout: System.CommandLine
    /// would otherwise end the process 2 s after Ctrl-C or SIGTERM, in the middle of a
    /// `run` host's orderly shutdown (its own signal handling, up to 30 s) or `capture`'s
    /// drain. Start-up problems (<see cref="StartupException"/>: TLS material, Redis
    /// credentials, tag keys) are one line and exit status 2, not a stack trace.
    /// </summary>
    public static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        try
        {
            return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false })
                .ConfigureAwait(false);
        }
        catch (StartupException e)
        {
            await Console.Error.WriteLineAsync($"flowmesh: error: {e.Message}").ConfigureAwait(false);
            return 2;
        }
    }
}
