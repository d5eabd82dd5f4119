using System.ComponentModel;
using System.Diagnostics;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// Runs a command-line tool to its end within a deadline and returns what it printed;
/// a missing tool, a failure or an overrun fails the test with the tool's own words.
/// </summary>
internal static class ToolRun
{
    /// <summary>The tool's path on PATH, or a failure that says how to install it.</summary>
    public static string Require(string tool, string install)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, tool);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new XunitException($"{tool} not found: {install}");
    }

    /// <summary>Standard output of a run that must exit 0 before <paramref name="deadline"/>.</summary>
    public static async Task<string> OutputAsync(
        string path, IEnumerable<string> arguments, TimeSpan deadline,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var a in arguments)
            info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            info.Environment[k] = v;
        var shown = $"{Path.GetFileName(path)} {string.Join(' ', info.ArgumentList)}";

        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new XunitException($"could not start {shown}: {e.Message}");
        }
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new XunitException($"{shown} did not finish within {deadline.TotalSeconds:F0} s; it printed:\n{await stderr}");
        }
        var output = await stdout;
        if (process.ExitCode != 0)
            throw new XunitException($"{shown} exited {process.ExitCode}:\n{await stderr}");
        return output;
    }
}
