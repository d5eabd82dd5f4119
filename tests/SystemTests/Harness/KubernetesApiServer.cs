using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// A local HTTP server that speaks the Kubernetes API's list+watch protocol for pods and
/// Services (GET /api/v1/pods, /api/v1/services; fieldSelector=spec.nodeName=...;
/// watch=true streams JSON lines {"type", "object"} from a resourceVersion). A real
/// kube-apiserver cannot be installed on this machine (Debian has no package of it and the
/// registries here serve no binaries of it), so the tests stand this in its place; the
/// objects it serves are Kubernetes' own JSON (Kubernetes/*.json, in the form `kubectl get -o json` prints).
/// </summary>
internal sealed class KubernetesApiServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Lock _lock = new();
    private readonly List<(long Version, string Type, string Kind, JsonObject Object)> _events = [];
    private readonly Dictionary<(string Kind, string Uid), JsonObject> _objects = [];
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _version = 100;

    private KubernetesApiServer(int port)
    {
        Url = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Url + "/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public string Url { get; }

    /// <summary>Every request's path and query, in order.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    public static KubernetesApiServer Start() => new(Sockets.FreePort(IPAddress.Loopback));

    /// <summary>A kubeconfig that points at this server, written to <paramref name="path"/>.</summary>
    public string WriteKubeconfig(string path)
    {
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: test
              cluster:
                server: {Url}
            contexts:
            - name: test
              context:
                cluster: test
                user: test
            current-context: test
            users:
            - name: test
              user:
                token: test-token
            """);
        return path;
    }

    /// <summary>A fixture object (Kubernetes/NAME.json), to be changed before it is added.</summary>
    public static JsonObject Fixture(string name) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Kubernetes", name + ".json")))!.AsObject();

    /// <summary>Adds (or replaces) an object: ADDED (MODIFIED) to every watch of its kind.</summary>
    public void Put(string kind, JsonObject obj) => Change(kind, obj, deleted: false);

    public void Delete(string kind, JsonObject obj) => Change(kind, obj, deleted: true);

    private void Change(string kind, JsonObject obj, bool deleted)
    {
        lock (_lock)
        {
            var version = ++_version;
            var copy = obj.DeepClone().AsObject();
            copy["metadata"]!["resourceVersion"] = version.ToString(CultureInfo.InvariantCulture);
            var key = (kind, (string)copy["metadata"]!["uid"]!);
            var type = deleted ? "DELETED" : _objects.ContainsKey(key) ? "MODIFIED" : "ADDED";
            if (deleted)
                _objects.Remove(key);
            else
                _objects[key] = copy;
            _events.Add((version, type, kind, copy));
            _changed.TrySetResult();
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        _requests.Enqueue(request.Url!.PathAndQuery);
        using var response = context.Response;
        var kind = request.Url.AbsolutePath switch
        {
            "/api/v1/pods" => "pods",
            "/api/v1/services" => "services",
            _ => null,
        };
        if (kind is null || request.HttpMethod != "GET")
        {
            response.StatusCode = 404;
            return;
        }
        var node = request.QueryString["fieldSelector"] is { } selector && selector.StartsWith("spec.nodeName=", StringComparison.Ordinal)
            ? selector["spec.nodeName=".Length..] : null;
        bool Selected(JsonObject o) => node is null || (string?)o["spec"]?["nodeName"] == node;
        response.ContentType = "application/json";
        try
        {
            if (request.QueryString["watch"] is not ("true" or "1"))
            {
                string list;
                lock (_lock)
                {
                    var items = new JsonArray([.. _objects.Where(o => o.Key.Kind == kind && Selected(o.Value)).Select(o => (JsonNode)o.Value.DeepClone())]);
                    list = new JsonObject
                    {
                        ["kind"] = kind == "pods" ? "PodList" : "ServiceList",
                        ["apiVersion"] = "v1",
                        ["metadata"] = new JsonObject { ["resourceVersion"] = _version.ToString(CultureInfo.InvariantCulture) },
                        ["items"] = items,
                    }.ToJsonString();
                }
                var body = Encoding.UTF8.GetBytes(list);
                await response.OutputStream.WriteAsync(body);
                return;
            }
            var from = long.TryParse(request.QueryString["resourceVersion"], CultureInfo.InvariantCulture, out var v) ? v : _version;
            var until = DateTime.UtcNow.AddSeconds(double.TryParse(request.QueryString["timeoutSeconds"], CultureInfo.InvariantCulture, out var t) ? t : 60);
            response.SendChunked = true;
            while (DateTime.UtcNow < until && !_stop.IsCancellationRequested)
            {
                Task changed;
                List<string> lines;
                lock (_lock)
                {
                    lines = [.. _events.Where(e => e.Version > from && e.Kind == kind && Selected(e.Object))
                        .Select(e => new JsonObject { ["type"] = e.Type, ["object"] = e.Object.DeepClone() }.ToJsonString() + "\n")];
                    from = _version;
                    changed = _changed.Task;
                }
                foreach (var line in lines)
                    await response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(line));
                await response.OutputStream.FlushAsync();
                await Task.WhenAny(changed, Task.Delay(TimeSpan.FromSeconds(1), _stop.Token).ContinueWith(_ => { }, TaskScheduler.Default));
            }
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // the client went away
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _stop.Dispose();
    }
}
