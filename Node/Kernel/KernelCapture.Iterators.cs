using System.Runtime.InteropServices;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Kernel.Native;

namespace FlowMesh.Node.Kernel;

/// <summary>The socket iterators: the sockets open at start, the open flows' reports, the listeners.</summary>
public sealed unsafe partial class KernelCapture
{
    /// <summary>
    /// Runs the socket iterator once in the captured namespace: every TCP socket already
    /// open is reported (kind existing, marked mid-life) and so are its later events.
    /// With <c>--netns all</c> only this process's namespace is walked; sockets elsewhere
    /// are recognised as mid-life at their next transition. Returns the sockets reported.
    /// </summary>
    public int ReportExistingSockets()
    {
        var before = TotalExisting();
        RunIterator(ExistingProgram, static _ => { });
        return (int)(TotalExisting() - before);
    }

    /// <summary>
    /// Writes a report record (kind report, with the socket's figures) for every open socket
    /// FlowMesh follows in the captured namespace whose segment counts moved since the last call.
    /// </summary>
    public void ReportOpenSockets() => RunIterator(ReportProgram, static _ => { });

    /// <summary>
    /// Every listening socket of the captured namespace with what it refused so far (the
    /// fm_listeners iterator writes one <see cref="ListenerRecord"/> each).
    /// </summary>
    public List<ListenerRecord> ReadListeners()
    {
        var listeners = new List<ListenerRecord>();
        var pending = new List<byte>();
        RunIterator(ListenersProgram, chunk =>
        {
            // A read may end inside a record: keep the tail for the next one.
            pending.AddRange(chunk);
            var whole = pending.Count / ListenerRecord.Size * ListenerRecord.Size;
            var bytes = CollectionsMarshal.AsSpan(pending)[..whole];
            listeners.AddRange(MemoryMarshal.Cast<byte, ListenerRecord>(bytes));
            pending.RemoveRange(0, whole);
        });
        return listeners;
    }

    /// <summary>
    /// Runs an iterator program once in the captured namespace (the namespace of the thread
    /// that creates its file descriptor) and hands each read of its output to <paramref name="read"/>.
    /// </summary>
    private void RunIterator(string program, Action<ReadOnlySpan<byte>> read)
    {
        var link = LibBpf.bpf_program__attach_iter(FindProgram(program), 0);
        if (link == 0)
            throw new CaptureStartException($"cannot attach the socket iterator {program}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        try
        {
            var iterFd = Namespace.RunInside(() => LibBpf.bpf_iter_create(LibBpf.bpf_link__fd(link)));
            if (iterFd < 0)
                throw new CaptureStartException($"cannot start the socket iterator {program}: {LibC.ErrorText(-iterFd)}");
            try
            {
                var buffer = stackalloc byte[4096];
                nint n;
                while ((n = LibC.read(iterFd, buffer, 4096)) != 0)
                {
                    if (n < 0)
                    {
                        if (Marshal.GetLastPInvokeError() == LibC.EINTR)
                            continue;
                        throw new CaptureStartException($"the socket iterator {program} failed: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
                    }
                    read(new ReadOnlySpan<byte>(buffer, (int)n));
                }
            }
            finally
            {
                LibC.close(iterFd);
            }
        }
        finally
        {
            _ = LibBpf.bpf_link__destroy(link);
        }
    }

    private ulong TotalExisting()
    {
        ulong total = 0;
        foreach (var c in ReadKernelCounters())
            total += c.Existing;
        return total;
    }
}
