using System.Diagnostics;
using System.Net;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Kernel;
using FlowMesh.SystemTests.Harness;

namespace FlowMesh.SystemTests;

/// <summary>The capture library as the Node uses it in-process, where its own connections must stay out of the picture.</summary>
public sealed class InProcessCaptureTests
{
    private sealed class CollectingSink : IRecordBatchSink
    {
        private readonly Lock _gate = new();
        private readonly List<TcpEventRecord> _records = [];

        public void Deliver(RecordBatch batch)
        {
            lock (_gate)
                _records.AddRange(batch.Records);
            batch.Release();
        }

        public List<TcpEventRecord> Records
        {
            get
            {
                lock (_gate)
                    return [.. _records];
            }
        }
    }

    [Fact]
    public async Task The_capturing_process_own_connections_are_excluded_and_others_are_not()
    {
        KernelTestRequirements.Require();
        var port = Sockets.FreePort(IPAddress.Loopback);
        var sink = new CollectingSink();
        using var session = CaptureSession.Start(new CaptureOptions { IncludePorts = [(ushort)port] }, sink);

        // Our own connection, both ends in this process.
        using var listener = Sockets.Listen(IPAddress.Loopback, port);
        var (ownClient, ownServer) = Sockets.Connect(listener);
        var own = new[] { Sockets.Cookie(listener), Sockets.Cookie(ownClient), Sockets.Cookie(ownServer) };
        Sockets.CloseClientFirst(ownClient, ownServer);

        // Another process connects to our listener: its end is reported, ours is not.
        var accept = Task.Run(() =>
        {
            using var accepted = listener.Accept();
            Sockets.ReceiveUntilClosed(accepted);
            return Sockets.Cookie(accepted);
        });
        using (var bash = Process.Start("bash", ["-c", $"echo hello > /dev/tcp/127.0.0.1/{port}"]))
        {
            await bash.WaitForExitAsync();
            Assert.Equal(0, bash.ExitCode);
        }
        var acceptedCookie = await accept.WaitAsync(TimeSpan.FromSeconds(10));

        await WaitFor(sink, rs => rs.Any(r => r.CommText == "bash" && r.NewState == TcpState.Close), "bash's connection to close");
        session.Stop();

        Assert.DoesNotContain(sink.Records, r => own.Contains(r.SocketCookie) || r.SocketCookie == acceptedCookie);
        Assert.DoesNotContain(sink.Records, r => r.Tgid == Environment.ProcessId);
        Assert.DoesNotContain(sink.Records, r => r.Has(TcpEventFlags.MidLife));
        var connect = Assert.Single(sink.Records, r => r.OldState == TcpState.Close && r.NewState == TcpState.SynSent);
        Assert.Equal("bash", connect.CommText);
    }

    [Fact]
    public async Task Own_connections_are_reported_when_asked()
    {
        KernelTestRequirements.Require();
        var port = Sockets.FreePort(IPAddress.Loopback);
        var sink = new CollectingSink();
        using var session = CaptureSession.Start(new CaptureOptions { IncludePorts = [(ushort)port], ExcludeOwnProcess = false }, sink);

        using var listener = Sockets.Listen(IPAddress.Loopback, port);
        var (client, server) = Sockets.Connect(listener);
        var c = Sockets.Cookie(client);
        Sockets.CloseClientFirst(client, server);

        await WaitFor(sink, rs => rs.Any(r => r.SocketCookie == c && r.NewState == TcpState.Close), "our own client to close");
        var summary = session.Stop();
        Assert.Equal(summary.Records, sink.Records.Count);
        Assert.Equal(0, summary.Drops);
        Assert.Equal(
            [TcpState.SynSent, TcpState.Established, TcpState.FinWait1, TcpState.FinWait2, TcpState.Close],
            sink.Records.Where(r => r.SocketCookie == c).Select(r => r.NewState));
    }

    private static async Task<List<TcpEventRecord>> WaitFor(CollectingSink sink, Func<List<TcpEventRecord>, bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var records = sink.Records;
            if (condition(records))
                return records;
            if (deadline.Elapsed > TimeSpan.FromSeconds(20))
                throw new Xunit.Sdk.XunitException($"timed out waiting for {what}; {records.Count} records");
            await Task.Delay(20);
        }
    }
}
