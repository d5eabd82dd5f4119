using System.Runtime.InteropServices;

namespace FlowMesh.Hosting;

/// <summary>
/// Turns Ctrl-C (SIGINT) and SIGTERM into a cancellation, so a command can detach
/// its programs, drain what the kernel already wrote and print its summary before
/// exiting. A second signal while stopping is left to its default action.
/// </summary>
public sealed class ShutdownSignal : IDisposable
{
    private readonly CancellationTokenSource _cancellation;
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;

    public ShutdownSignal(CancellationToken alsoStopOn)
    {
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(alsoStopOn);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    public CancellationToken Token => _cancellation.Token;

    private void OnSignal(PosixSignalContext context)
    {
        if (_cancellation.IsCancellationRequested)
            return; // second Ctrl-C: let the runtime terminate the process
        context.Cancel = true;
        _cancellation.Cancel();
    }

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _cancellation.Dispose();
    }
}
