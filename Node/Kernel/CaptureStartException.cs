namespace FlowMesh.Node.Kernel;

/// <summary>
/// Capture cannot start. The message is one line that says what is missing and how
/// to fix it; it is printed as is and the process exits non-zero.
/// </summary>
public sealed class CaptureStartException : Exception
{
    public CaptureStartException(string message) : base(message) { }
    public CaptureStartException(string message, Exception inner) : base(message, inner) { }
    public CaptureStartException() { }
}
