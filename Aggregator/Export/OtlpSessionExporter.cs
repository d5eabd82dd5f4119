using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using FlowMesh.Aggregator.Sessions;
using FlowMesh.Contracts.Identity;
using FlowMesh.Contracts.Messages;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace FlowMesh.Aggregator.Export;

/// <summary>
/// Exports every settled session as a trace over OTLP (OpenTelemetry's own SDK and
/// exporter): a root span for the connection, and a client span and a server span,
/// each at the real kernel timestamps of its host converted to wall-clock time. The
/// trace id comes from the trace tag (its 8 bytes, twice: anyone holding the tag from
/// `capture` finds the trace), or, for sessions without a tag, from a hash of the
/// session id.
/// </summary>
public sealed class OtlpSessionExporter : ISessionSubscriber, IDisposable
{
    public const string SourceName = "FlowMesh.Sessions";

    private readonly ActivitySource _source = new(SourceName);
    private readonly TracerProvider _provider;
    private readonly CountingBatchProcessor _processor;
    private readonly AggregatorCounters _counters;

    // Root activities take their trace id from Activity.TraceIdGenerator; this thread's
    // pending id is handed to it during Export only (StartActivity runs on this thread).
    [ThreadStatic]
    private static ActivityTraceId? t_nextTraceId;

    static OtlpSessionExporter() =>
        Activity.TraceIdGenerator = () => t_nextTraceId ?? ActivityTraceId.CreateRandom();

    public OtlpSessionExporter(Uri endpoint, string serviceName, AggregatorCounters counters)
    {
        _counters = counters;
        // Our own batch processor, so that every span lost is counted (spans_dropped).
        _processor = new CountingBatchProcessor(new OtlpTraceExporter(new OtlpExporterOptions { Endpoint = endpoint, Protocol = OtlpExportProtocol.HttpProtobuf }));
        _provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(SourceName)
            .SetSampler(new AlwaysOnSampler())
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService(serviceName))
            .AddProcessor(_processor)
            .Build();
    }

    /// <summary>Spans lost: dropped from the full export queue, or in a batch the collector refused or did not answer.</summary>
    public long Dropped => _processor.Dropped;

    /// <summary>Exported the first time, and again only when a late side joined it (a side told twice is not exported twice).</summary>
    public void Settled(in SettledSession session)
    {
        if (session.IsNews)
            Export(session.View);
    }

    public void Export(SessionView session)
    {
        var start = new DateTime(Math.Min(Start(session.Client), Start(session.Server)) / 100 + DateTime.UnixEpoch.Ticks, DateTimeKind.Utc);
        var end = new DateTime(Math.Max(End(session.Client), End(session.Server)) / 100 + DateTime.UnixEpoch.Ticks, DateTimeKind.Utc);
        // A default parent context means "Activity.Current": clear it so the root is a root.
        var ambient = Activity.Current;
        Activity.Current = null;
        t_nextTraceId = TraceIdOf(session);
        Activity? root;
        try
        {
            var edge = Edges.Of(session);
            root = _source.StartActivity($"TCP {edge.Replace(">", " -> ", StringComparison.Ordinal)}", ActivityKind.Internal, parentContext: default, startTime: start);
        }
        finally
        {
            t_nextTraceId = null;
        }
        if (root is null)
        {
            Activity.Current = ambient;
            return; // nobody listening (no exporter)
        }
        root.SetTag("flowmesh.session.id", session.Id);
        root.SetTag("flowmesh.edge", Edges.Of(session));
        root.SetTag("flowmesh.address_edge", Edges.AddressOf(session));
        root.SetTag("flowmesh.join", SessionNames.Join(session.Join));
        root.SetTag("flowmesh.reset", session.Reset);
        root.SetTag("flowmesh.complete", session.Complete);
        root.SetTag("flowmesh.bytes_client_to_server", (long)session.BytesClientToServer);
        root.SetTag("flowmesh.bytes_server_to_client", (long)session.BytesServerToClient);
        if (session.TraceTag != 0)
            root.SetTag("flowmesh.trace_tag", session.TraceTag.ToString("x16", System.Globalization.CultureInfo.InvariantCulture));

        Child(root, "client", ActivityKind.Client, session.Client, session.ConnectMs);
        Child(root, "server", ActivityKind.Server, session.Server, session.ServerHandshakeMs);
        root.SetEndTime(end);
        root.Stop();
        Activity.Current = ambient;
        _counters.SessionExported();
    }

    private void Child(Activity root, string role, ActivityKind kind, SessionSide? side, double handshakeMs)
    {
        if (side is null)
            return;
        var span = _source.StartActivity($"{role} {side.HostId}", kind, root.Context,
            startTime: new DateTime(side.StartUnixNs / 100 + DateTime.UnixEpoch.Ticks, DateTimeKind.Utc));
        if (span is null)
            return;
        span.SetTag("flowmesh.host", side.HostId);
        span.SetTag("flowmesh.cookie", (long)side.Cookie);
        span.SetTag("net.sock.host.addr", side.LocalAddress);
        span.SetTag("net.sock.host.port", (long)side.LocalPort);
        span.SetTag("net.sock.peer.addr", side.RemoteAddress);
        span.SetTag("net.sock.peer.port", (long)side.RemotePort);
        span.SetTag("process.pid", (long)side.Pid);
        span.SetTag("process.executable.name", side.Comm);
        span.SetTag("flowmesh.handshake_ms", handshakeMs);
        span.SetTag("flowmesh.srtt_us", (long)side.SrttUs);
        span.SetTag("flowmesh.close_reason", SessionNames.CloseReason(side.CloseReason));
        if (side.Runtime is { } runtime)
            RuntimeTags(span, runtime);
        if (side.Health is { } health)
            HealthTags(span, health);
        if (side.Workload is { } workload)
            WorkloadTags(span, workload);
        span.SetEndTime(new DateTime(side.EndUnixNs / 100 + DateTime.UnixEpoch.Ticks, DateTimeKind.Utc));
        span.Stop();
    }

    /// <summary>The side's workload, as OpenTelemetry's resource conventions name its parts (k8s.*, container.id); a unit as flowmesh.unit.</summary>
    private static void WorkloadTags(Activity span, Workload w)
    {
        if (WorkloadNames.Of(w) is { } name)
            span.SetTag("flowmesh.workload", name);
        if (w.Unit.Length > 0)
            span.SetTag("flowmesh.unit", w.Unit);
        if (w.ContainerId.Length > 0)
            span.SetTag("container.id", w.ContainerId);
        if (w.PodUid.Length > 0)
            span.SetTag("k8s.pod.uid", w.PodUid);
        if (w.Namespace.Length == 0)
            return;
        span.SetTag("k8s.namespace.name", w.Namespace);
        span.SetTag("k8s.pod.name", w.Pod);
        if (w.OwnerKind.Length > 0)
            span.SetTag($"k8s.{w.OwnerKind.ToLowerInvariant()}.name", w.Owner);
    }

    /// <summary>The side's TCP health (the README's TCP health section); reasons only when there were some.</summary>
    private static void HealthTags(Activity span, TcpHealth h)
    {
        span.SetTag("flowmesh.tcp.min_rtt_us", (long)h.MinRttUs);
        span.SetTag("flowmesh.tcp.rtt_var_us", (long)h.RttVarUs);
        span.SetTag("flowmesh.tcp.cwnd", (long)h.Cwnd);
        span.SetTag("flowmesh.tcp.delivery_rate", (long)h.DeliveryRate);
        span.SetTag("flowmesh.tcp.bytes_retransmitted", (long)h.BytesRetransmitted);
        span.SetTag("flowmesh.tcp.retransmits.timeout", (long)h.RetransmitsTimeout);
        span.SetTag("flowmesh.tcp.retransmits.fast", (long)h.RetransmitsFast);
        span.SetTag("flowmesh.tcp.retransmits.probe", (long)h.RetransmitsProbe);
        span.SetTag("flowmesh.tcp.retransmits.syn", (long)h.RetransmitsSyn);
        span.SetTag("flowmesh.tcp.spurious_retransmits", (long)h.SpuriousRetransmits);
        span.SetTag("flowmesh.tcp.drops", (long)h.Drops);
        if (h.DropReason.Length > 0)
            span.SetTag("flowmesh.tcp.drop_reason", h.DropReason);
        if (h.ResetCause.Length > 0)
        {
            span.SetTag("flowmesh.tcp.reset_phase", h.ResetPhase);
            span.SetTag("flowmesh.tcp.reset_cause", h.ResetCause);
        }
        if (h.Error.Length > 0)
            span.SetTag("flowmesh.tcp.error", h.Error);
    }

    /// <summary>Where the side's time went inside its process; only what was measured (see the README's Runtime section).</summary>
    private static void RuntimeTags(Activity span, FlowRuntime r)
    {
        if (r.Runtime.Length > 0)
            span.SetTag("process.runtime.name", r.Runtime);
        if (r.AcceptedNs != 0)
        {
            span.SetTag("flowmesh.accept_wait_ms", r.AcceptWaitUs / 1000.0);
            span.SetTag("thread.id", (long)r.AcceptedTid);
        }
        if (r.GoroutineId != 0)
            span.SetTag("flowmesh.go.goroutine", (long)r.GoroutineId);
        if (r.RunQueueSamples > 0)
            span.SetTag("flowmesh.run_queue_p99_ms", r.RunQueueP99Us / 1000);
        if (r.GoScheduleSamples > 0)
            span.SetTag("flowmesh.go.schedule_p99_ms", r.GoScheduleP99Us / 1000);
        if (r.GcWatched)
        {
            span.SetTag("flowmesh.dotnet.gc_pauses", (long)r.GcPauses);
            span.SetTag("flowmesh.dotnet.gc_pause_overlap_ms", r.GcPauseOverlapUs / 1000.0);
        }
    }

    private static long Start(SessionSide? s) => s?.StartUnixNs ?? long.MaxValue;

    private static long End(SessionSide? s) => s?.EndUnixNs ?? long.MinValue;

    /// <summary>The W3C trace id of a session: the tag's 8 bytes twice, else 16 bytes of SHA-256 of the session id.</summary>
    public static ActivityTraceId TraceIdOf(SessionView session)
    {
        Span<byte> id = stackalloc byte[16];
        if (session.TraceTag != 0)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(id, session.TraceTag);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(id[8..], session.TraceTag);
        }
        else
        {
            SHA256.HashData(Encoding.UTF8.GetBytes(session.Id)).AsSpan(0, 16).CopyTo(id);
        }
        return ActivityTraceId.CreateFromBytes(id);
    }

    public void Dispose()
    {
        _provider.ForceFlush(2000);
        _provider.Dispose();
        _source.Dispose();
    }
}
