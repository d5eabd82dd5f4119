using Microsoft.AspNetCore.Builder;
using Microsoft.OpenApi;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// The query parameters an endpoint takes, named once: the handler's <see cref="QueryReader"/>
/// accepts exactly these, and the OpenAPI document lists them (the handlers read the raw
/// query to name a bad parameter themselves, so ASP.NET Core cannot infer them).
/// </summary>
internal static class OpenApiQuery
{
    public static RouteHandlerBuilder Query(this RouteHandlerBuilder endpoint, params string[] names) =>
        endpoint.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Parameters ??= [];
            foreach (var name in names)
            {
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = name,
                    In = ParameterLocation.Query,
                    Required = false,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                });
            }
            return Task.CompletedTask;
        });
}
