using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace FlowMesh.Aggregator.Gateway;

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
