using System.Net;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.Cli;

/// <summary>Writes capture records, one per line, as a table row or a JSON object.</summary>
internal abstract class EventFormatter(MonotonicClock clock) : IDisposable
{
    protected MonotonicClock Clock { get; } = clock;

    public virtual void WriteHeader() { }

    public abstract void Write(in TcpEventRecord record, int cpu);

    public abstract void Flush();

    public void Dispose()
    {
        DisposeCore();
        GC.SuppressFinalize(this);
    }

    protected virtual void DisposeCore() { }

    protected static string Endpoint(IPAddress address, ushort port, bool ipv6) =>
        ipv6 ? $"[{address}]:{port}" : $"{address}:{port}";
}
