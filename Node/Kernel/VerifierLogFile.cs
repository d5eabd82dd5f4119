using System.Runtime.Versioning;

namespace FlowMesh.Node.Kernel;

/// <summary>
/// Saves the verifier's log when the kernel refuses the programs. The Node usually runs
/// as root, so the file goes to a directory no other user can write: in a shared one
/// such as /tmp, another user could put a symlink at a name the Node is about to open
/// and have root write through it.
/// </summary>
internal static class VerifierLogFile
{
    /// <summary>Tried after LOGS_DIRECTORY, which systemd sets for the unit's LogsDirectory=flowmesh (the same directory).</summary>
    public const string LogDirectory = "/var/log/flowmesh";

    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>Writes <paramref name="text"/> to a new file and returns its path, or null if no directory took it.</summary>
    public static string? Write(string text)
    {
        if (OperatingSystem.IsWindows())
            return null; // Linux only, like the Node: the checks below are Unix file modes
        var name = $"flowmesh-verifier-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}.log";
        foreach (var directory in Directories())
        {
            var path = Path.Combine(directory, name);
            try
            {
                // CreateNew is O_CREAT|O_EXCL: a file or symlink already at the name is never opened.
                using var stream = new FileStream(path, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                });
                using var writer = new StreamWriter(stream);
                writer.Write(text);
                return path;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The next directory, if any.
            }
        }
        return null;
    }

    /// <summary>systemd's logs directory, then /var/log/flowmesh (made 0700), then a new private temporary directory.</summary>
    [UnsupportedOSPlatform("windows")]
    private static IEnumerable<string> Directories()
    {
        var logs = Environment.GetEnvironmentVariable("LOGS_DIRECTORY")?.Split(':')[0];
        foreach (var directory in new[] { logs, LogDirectory })
        {
            if (!string.IsNullOrEmpty(directory) && IsPrivate(directory))
                yield return directory;
        }
        // A fresh directory with a random name, mode 0700 (on a read-only root filesystem,
        // where /var/log cannot be written, this is the temporary directory's volume).
        string? temporary = null;
        try
        {
            temporary = Directory.CreateTempSubdirectory("flowmesh-verifier-").FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Nowhere to write: the caller says so.
        }
        if (temporary is not null)
            yield return temporary;
    }

    /// <summary>Creates the directory (mode 0700) if it is missing; true if it exists and only its owner may add or replace files in it.</summary>
    [UnsupportedOSPlatform("windows")]
    private static bool IsPrivate(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory, PrivateDirectory);
            return (File.GetUnixFileMode(directory) & WritableByOthers) == 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
