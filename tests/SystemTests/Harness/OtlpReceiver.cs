using System.Collections.Concurrent;
using System.Net;
using FlowMesh.SystemTests.Otlp;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// A real OTLP/HTTP trace receiver on loopback: takes the POSTs an exporter sends to
/// /v1/traces, decodes each protobuf body and keeps the spans.
/// </summary>
internal sealed class OtlpReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<Span> _spans = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly Task _loop;

    private OtlpReceiver(int port)
    {
        BaseUrl = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(BaseUrl + "/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    /// <summary>What to give an exporter as its endpoint (it adds /v1/traces).</summary>
    public string BaseUrl { get; }

    public IReadOnlyList<Span> Spans => [.. _spans];

    /// <summary>Requests it could not take (wrong path, content type or body).</summary>
    public IReadOnlyList<string> Errors => [.. _errors];

    public static OtlpReceiver Start() => new(Sockets.FreePort(IPAddress.Loopback));

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped
            }
            using var response = context.Response;
            var request = context.Request;
            if (request.HttpMethod != "POST" || request.Url?.AbsolutePath != "/v1/traces" || request.ContentType != "application/x-protobuf")
            {
                _errors.Enqueue($"{request.HttpMethod} {request.Url?.AbsolutePath} ({request.ContentType})");
                response.StatusCode = 404;
                continue;
            }
            try
            {
                var body = ExportTraceServiceRequest.Parser.ParseFrom(request.InputStream);
                foreach (var span in body.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans))
                    _spans.Enqueue(span);
                response.StatusCode = 200;
                response.ContentType = "application/x-protobuf";
            }
            catch (Google.Protobuf.InvalidProtocolBufferException e)
            {
                _errors.Enqueue($"undecodable body: {e.Message}");
                response.StatusCode = 400;
            }
        }
    }

    /// <summary>Stops listening (a test may do so early, to play a collector that went away); once is enough.</summary>
    public void Dispose()
    {
        if (!_listener.IsListening)
            return;
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
