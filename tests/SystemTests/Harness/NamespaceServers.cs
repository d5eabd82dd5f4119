using FlowMesh.TestSupport;

namespace FlowMesh.SystemTests.Harness;

/// <summary>Real servers the whole-system tests run inside a test namespace, started once they say they are ready.</summary>
internal static class NamespaceServers
{
    public static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(15);

    /// <summary>A redis-server listening on <paramref name="address"/> (protected mode off: its clients come from another host).</summary>
    public static Task<NamespaceProgram> RedisAsync(TestNamespace host, string what, string address, int port, string directory, params string[] more) =>
        ReadyAsync(NamespaceProgram.Start(host, what, [LocalRedisServer.Binary,
                "--port", $"{port}", "--bind", address, "--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", directory, "--daemonize", "no", .. more]),
            l => l.Contains("Ready to accept connections", StringComparison.Ordinal));

    /// <summary>The server once it printed its ready line; stopped if it does not within <see cref="StartDeadline"/>.</summary>
    public static async Task<NamespaceProgram> ReadyAsync(NamespaceProgram server, Func<string, bool> ready)
    {
        try
        {
            await server.WaitForLineAsync(ready, "its ready line", StartDeadline);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }
}
