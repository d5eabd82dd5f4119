using System.Diagnostics;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// The gateway: an ASP.NET Core minimal API (and the web view) in the Aggregator
/// process, on its own Kestrel server, reading what the cluster and Redis hold.
/// </summary>
internal sealed class GatewayServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GatewayServer(WebApplication app) => _app = app;

    /// <summary>The address it listens on, e.g. http://127.0.0.1:8080.</summary>
    public string Url { get; private set; } = "";

    public static async Task<GatewayServer> StartAsync(GatewaySettings settings, GatewayContext context, ILoggerFactory loggers, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, ApplicationName = "FlowMesh.Aggregator" });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggers);
        builder.WebHost.ConfigureKestrel(k => k.Listen(settings.Address, settings.Port));
        builder.Services.AddSingleton(context);
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "FlowMesh gateway";
            doc.Info.Description = "Flows, sessions, latency, the service map and the cluster of a FlowMesh fleet.";
            return Task.CompletedTask;
        }));

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        var auth = settings.Token is { } token ? new GatewayAuth(token) : null;
        app.Use(async (http, next) =>
        {
            var started = Stopwatch.GetTimestamp();
            if (auth is not null && !GatewayAuth.IsOpen(http.Request.Path) && !auth.Allows(http.Request))
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
                await Results.Problem(title: "Unauthorized", detail: "this gateway needs 'Authorization: Bearer TOKEN' (the Gateway:Token setting)",
                    statusCode: StatusCodes.Status401Unauthorized).ExecuteAsync(http).ConfigureAwait(false);
            }
            else
            {
                await next(http).ConfigureAwait(false);
            }
            var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            if (route != "/api/stream")
                context.Metrics.Observe(route, http.Response.StatusCode, Stopwatch.GetElapsedTime(started).TotalSeconds);
        });

        app.MapOpenApi("/openapi/{documentName}.json");
        FlowEndpoints.Map(app);
        SessionEndpoints.Map(app);
        LatencyEndpoints.Map(app);
        ClusterEndpoints.Map(app);
        StreamEndpoint.Map(app);
        WebView.Map(app);

        try
        {
            await app.StartAsync(ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new GatewayStartException($"the gateway cannot listen on {settings.Address}:{settings.Port} ({e.Message}); choose another with --listen ADDRESS:PORT, or run with --no-gateway", e);
        }
        var server = new GatewayServer(app);
        server.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? $"http://{settings.Address}:{settings.Port}";
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>The web page: HTML, script and style embedded in the assembly.</summary>
internal static class WebView
{
    private static readonly Assembly Assembly = typeof(WebView).Assembly;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => File("index.html")).ExcludeFromDescription();
        app.MapGet("/ui/{file}", (string file) => File(file)).ExcludeFromDescription();
    }

    private static IResult File(string name)
    {
        var stream = Assembly.GetManifestResourceStream("web/" + name);
        if (stream is null)
            return Results.NotFound();
        var type = Path.GetExtension(name) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            _ => "application/octet-stream",
        };
        return Results.Stream(stream, type);
    }
}
