using System.Diagnostics;
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
        var refusals = context.Refusals;
        if (settings.RequestsPerSecond > 0)
            builder.Services.AddGatewayRateLimit(settings, refusals);
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "FlowMesh gateway";
            doc.Info.Description = "Flows, sessions, latency, the service map and the cluster of a FlowMesh fleet.";
            return Task.CompletedTask;
        }));

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // Every request is timed under its route, the refused ones included (streams excepted: they last).
        app.Use(async (http, next) =>
        {
            var started = Stopwatch.GetTimestamp();
            await next(http).ConfigureAwait(false);
            var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            if (route != GatewayAuth.StreamPath)
                context.Metrics.Observe(route, http.Response.StatusCode, Stopwatch.GetElapsedTime(started).TotalSeconds);
        });
        // The Host first: a page from elsewhere is turned away before it spends this host's request budget.
        if (settings.ChecksHost)
        {
            var hosts = new LoopbackHostCheck(settings.AllowedHosts);
            app.Use(async (http, next) =>
            {
                if (hosts.Allows(http.Request.Host))
                {
                    await next(http).ConfigureAwait(false);
                    return;
                }
                refusals.CountHostRefused();
                await hosts.Refusal(http.Request.Host).ExecuteAsync(http).ConfigureAwait(false);
            });
        }
        // The rate before the token, so that guessing tokens is as slow as any other request.
        if (settings.RequestsPerSecond > 0)
            app.UseRateLimiter();
        if (settings.Token is { } token)
        {
            var auth = new GatewayAuth(token, context.Tickets);
            app.Use(async (http, next) =>
            {
                if (GatewayAuth.IsOpen(http.Request.Path) || auth.Check(http.Request) is not { } refusal)
                {
                    await next(http).ConfigureAwait(false);
                    return;
                }
                refusals.CountUnauthorized();
                http.Response.Headers.WWWAuthenticate = refusal.Reason == "missing" ? "Bearer" : "Bearer error=\"invalid_token\"";
                var extensions = new Dictionary<string, object?> { ["reason"] = refusal.Reason };
                if (refusal.Parameter is { } parameter)
                    extensions["parameter"] = parameter;
                await Results.Problem(title: "Unauthorized", detail: refusal.Detail, statusCode: StatusCodes.Status401Unauthorized, extensions: extensions)
                    .ExecuteAsync(http).ConfigureAwait(false);
            });
        }

        app.MapOpenApi("/openapi/{documentName}.json");
        FlowEndpoints.Map(app);
        SessionEndpoints.Map(app);
        LatencyEndpoints.Map(app);
        RuntimeEndpoints.Map(app);
        AnomalyEndpoints.Map(app);
        ClusterEndpoints.Map(app);
        StreamEndpoint.Map(app);
        StreamTicketEndpoint.Map(app);
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
