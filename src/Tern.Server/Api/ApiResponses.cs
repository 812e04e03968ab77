using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.OpenApi;

namespace Tern.Server.Api;

/// <summary>
/// The problems an endpoint can answer with, declared for the OpenAPI document (the successes come from
/// the endpoints' <c>Results&lt;…&gt;</c> types; problems are written by the problem details service, so
/// they are declared here). 401, 403 and 429 are declared on the route groups in <see cref="ApiSetup"/>.
/// </summary>
internal static class ApiResponses
{
    /// <summary>A JSON body read by <see cref="ApiBody"/>: 400 naming the field, 413, 415.</summary>
    public static RouteHandlerBuilder ReadsJson(this RouteHandlerBuilder builder) => builder
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
        .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

    public static RouteHandlerBuilder ProducesNotFound(this RouteHandlerBuilder builder) => builder.ProducesProblem(StatusCodes.Status404NotFound);

    /// <summary>409: a taken id, a channel a route still uses.</summary>
    public static RouteHandlerBuilder ProducesConflict(this RouteHandlerBuilder builder) => builder.ProducesProblem(StatusCodes.Status409Conflict);

    public const string SecuritySchemeName = "bearer";

    /// <summary>The Bearer key scheme in the document, and on every /v1 operation.</summary>
    public static Task DeclareSecurity(OpenApiDocument document)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>(StringComparer.Ordinal);
        document.Components.SecuritySchemes[SecuritySchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "An API key, tern_<id>_<secret>: a tenant key for channels, routes, messages and webhooks; an admin key for tenants and keys.",
        };
        foreach (var (path, item) in document.Paths)
        {
            if (!path.StartsWith("/v1/", StringComparison.Ordinal) || item.Operations is null) continue;
            foreach (var operation in item.Operations.Values)
            {
                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SecuritySchemeName, document)] = [] });
            }
        }
        return Task.CompletedTask;
    }
}
