namespace FlowMesh.TestSupport;

/// <summary>
/// Something a command starts for itself could not be started (a private redis-server,
/// an Aggregator to measure): the command reports it on one line, without a stack trace.
/// </summary>
public sealed class SetupFailedException(string message) : Exception(message)
{
    /// <summary>Runs a command's action; a failed set-up becomes one "flowmesh: error:" line and exit status 1.</summary>
    public static async Task<int> ReportAsync(Func<Task<int>> run)
    {
        try
        {
            return await run().ConfigureAwait(false);
        }
        catch (SetupFailedException e)
        {
            await Console.Error.WriteLineAsync($"flowmesh: error: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}
