using FlowMesh.Node.Flows;
using FlowMesh.Node.Kernel;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Node.Hosting;

/// <summary>
/// The trace tag keys (<c>Node:TagKeyFile</c>): one key per line, 32 hex digits (16 bytes);
/// blank lines and lines starting with # are skipped. The first key signs this host's
/// tags, every key is accepted on tags from other hosts. The file is read again every
/// few seconds (a mounted Kubernetes Secret changes by a symlink swap, which no watch on
/// the file sees), so a rotation needs no restart: put the new key in second place on
/// every host, then first, then drop the old one.
/// </summary>
internal sealed class TagKeyFile(string path, CaptureSession capture, ILogger logger) : IAsyncDisposable
{
    private static readonly TimeSpan Every = TimeSpan.FromSeconds(2);
    private readonly CancellationTokenSource _stop = new();
    private string _loaded = "";
    private Task? _loop;

    /// <summary>The keys in the file; throws <see cref="TagKeyException"/> (one line) when it cannot be read or holds a bad key.</summary>
    public static IReadOnlyList<TagAuthenticator.Key> Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TagKeyException($"cannot read Node:TagKeyFile {path} ({e.Message}); make one with `od -An -tx1 -N16 /dev/urandom | tr -d ' \\n' > {path}`");
        }
        return Parse(text, path);
    }

    internal static IReadOnlyList<TagAuthenticator.Key> Parse(string text, string path)
    {
        var keys = new List<TagAuthenticator.Key>();
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            try
            {
                keys.Add(TagAuthenticator.Key.FromHex(line));
            }
            catch (FormatException)
            {
                throw new TagKeyException($"Node:TagKeyFile {path} line {number} is not a key of 32 hex digits (16 bytes)");
            }
        }
        if (keys.Count == 0)
            throw new TagKeyException($"Node:TagKeyFile {path} holds no key");
        return keys;
    }

    /// <summary>Applies the file's keys now (to this process's checks and the kernel's signing), then every few seconds when it changes.</summary>
    public void Start()
    {
        Apply(File.ReadAllText(path));
        _loop = Task.Run(PollAsync);
    }

    private async Task PollAsync()
    {
        using var timer = new PeriodicTimer(Every);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                try
                {
                    var text = await File.ReadAllTextAsync(path, _stop.Token).ConfigureAwait(false);
                    if (text != _loaded)
                        Apply(text);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or TagKeyException)
                {
                    logger.LogWarning("Trace tag keys not changed: {Reason}", e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Apply(string text)
    {
        var keys = Parse(text, path);
        _loaded = text;
        TagAuthenticator.SetKeys(keys);
        capture.SetTagKey(keys[0]);
        logger.LogInformation("Trace tag keys from {Path}: signing with {Signing}, accepting {Accepted}", path, keys[0].Id, string.Join(", ", keys.Select(k => k.Id)));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
            await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
