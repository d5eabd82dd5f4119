using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace FlowMesh.Workloads.GcServer;

/// <summary>Listens, says so in one JSON line, serves until SIGTERM or SIGINT, then exits 0.</summary>
internal static class Server
{
    private const string Usage = "usage: FlowMesh.Workloads.GcServer --listen ADDR:PORT";

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 2 || args[0] != "--listen" || !IPEndPoint.TryParse(args[1], out var endpoint))
        {
            await Console.Error.WriteLineAsync($"gcserver: error: {Usage}").ConfigureAwait(false);
            return 2;
        }
        // The /gc headers promise CLOCK_MONOTONIC; refuse to start rather than report another clock.
        if (!MonotonicTime.StopwatchIsMonotonic(out var why))
        {
            await Console.Error.WriteLineAsync($"gcserver: error: {why}").ConfigureAwait(false);
            return 1;
        }

        using var stop = new CancellationTokenSource();
        // Cancel the default ending so that Main returns and the exit status is 0.
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

        var listener = new TcpListener(endpoint);
        try
        {
            listener.Start(backlog: 512);
        }
        catch (SocketException e)
        {
            await Console.Error.WriteLineAsync($"gcserver: error: cannot listen on {endpoint}: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        Console.WriteLine($$"""{"event":"listening","pid":{{Environment.ProcessId}},"port":{{port}}}""");
        Console.Out.Flush();
        try
        {
            while (true)
            {
                var client = await listener.AcceptTcpClientAsync(stop.Token).ConfigureAwait(false);
                _ = HttpConnection.ServeAsync(client, stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            listener.Stop();
        }
        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }
}
