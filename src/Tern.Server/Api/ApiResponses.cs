using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Tern.Core.Catalog;

namespace Tern.Server.Api;

/// <summary>
/// The problems an endpoint can answer with, declared for the OpenAPI document (the successes come from
/// the endpoints' <c>Results&lt;…&gt;</c> types; problems are written by the problem details service, so
/// they are declared here). 401, 403 and 429 are declared on the route groups in <see cref="ApiSetup"/>.
/// </summary>
internal static class ApiResponses
{
    /// <summary>
    /// A JSON body read by <see cref="ApiBody"/>: its schema as the operation's request body, and 400 naming
    /// the field, 413, 415. (Not <c>Accepts&lt;T&gt;</c>: that would let routing answer a wrong Content-Type with
    /// its own empty 415 instead of the API's problem.)
    /// </summary>
    public static RouteHandlerBuilder ReadsJson<TRequest>(this RouteHandlerBuilder builder) where TRequest : class => builder
        .WithMetadata(new JsonBodyMetadata(typeof(TRequest)))
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
        .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

    public static RouteHandlerBuilder ProducesNotFound(this RouteHandlerBuilder builder) => builder.ProducesProblem(StatusCodes.Status404NotFound);

    /// <summary>409: a taken id, a channel a route still uses.</summary>
    public static RouteHandlerBuilder ProducesConflict(this RouteHandlerBuilder builder) => builder.ProducesProblem(StatusCodes.Status409Conflict);

    /// <summary>The request body of an operation that reads one with <see cref="ReadsJson"/>.</summary>
    public static async Task DescribeJsonBody(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.Description.ActionDescriptor.EndpointMetadata.OfType<JsonBodyMetadata>().LastOrDefault() is not { } body) return;
        var schema = await context.GetOrCreateSchemaAsync(body.Type, null, cancellationToken).ConfigureAwait(false);
        // Request fields are all optional to the parser (a missing one is a 400 naming it), whatever the record's constructor says.
        NothingRequired(schema);
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal) { ["application/json"] = new OpenApiMediaType { Schema = schema } },
        };
    }

    private static void NothingRequired(IOpenApiSchema? schema)
    {
        if (schema is not OpenApiSchema inline) return; // a reference: a shared component, left as it is
        inline.Required?.Clear();
        foreach (var property in inline.Properties?.Values ?? []) NothingRequired(property);
        NothingRequired(inline.Items);
        foreach (var option in inline.OneOf ?? []) NothingRequired(option);
        foreach (var option in inline.AnyOf ?? []) NothingRequired(option);
    }

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

    /// <summary>
    /// A channel's request and answer name each channel type's settings object as a property of its own (the types'
    /// <see cref="ChannelSettingsShape"/>), in place of the open-ended extension data the records carry them in.
    /// </summary>
    public static async Task DescribeChannelSettings(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        var request = context.JsonTypeInfo.Type == typeof(ChannelRequest);
        if (!request && context.JsonTypeInfo.Type != typeof(ChannelResponse)) return;
        var types = context.ApplicationServices.GetRequiredService<ChannelTypeRegistry>();
        schema.Properties ??= new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal);
        foreach (var type in types.All)
        {
            if (type is not { SettingsProperty: { } property, SettingsShape: { } shape }) continue;
            var settings = await context.GetOrCreateSchemaAsync(request ? shape.Request : shape.Shown, null, cancellationToken).ConfigureAwait(false);
            if (settings is OpenApiSchema inline) inline.Description ??= $"The {type.Name} channel type's settings{(request ? "" : " as shown (never a secret)")}.";
            schema.Properties[property] = settings;
        }
        schema.AdditionalProperties = null;
        schema.AdditionalPropertiesAllowed = false;
    }
}

/// <summary>The type of the JSON body an endpoint reads itself (for the OpenAPI document only).</summary>
internal sealed record JsonBodyMetadata(Type Type);
