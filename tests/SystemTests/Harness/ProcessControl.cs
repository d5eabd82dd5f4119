using System.Diagnostics;
using System.Runtime.InteropServices;

namespace FlowMesh.SystemTests.Harness;

/// <summary>Signals and endings for the processes the tests start.</summary>
internal static partial class ProcessControl
{
    public const int SigInt = 2;
    public const int SigUsr1 = 10;
    public const int SigUsr2 = 12;
    public const int SigTerm = 15;
    public const int SigCont = 18;
    public const int SigStop = 19;

    /// <summary>Sends a signal (Ctrl-C is SIGINT, systemd and Kubernetes send SIGTERM).</summary>
    public static void Signal(Process process, int signal)
    {
        if (!process.HasExited)
            _ = Kill(process.Id, signal);
    }

    /// <summary>Sends a signal to a process group, as a terminal sends Ctrl-C to the job in the foreground.</summary>
    public static void SignalGroup(Process process, int signal)
    {
        if (!process.HasExited)
            _ = Kill(-process.Id, signal);
    }

    /// <summary>kill -9 if still running, then waits for the end.</summary>
    public static async Task KillAsync(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
