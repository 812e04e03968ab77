using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Tern.Channels;
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

    /// <summary>The operation's tag, operationId (also the endpoint's name) and summary.</summary>
    public static RouteHandlerBuilder Operation(this RouteHandlerBuilder builder, string tag, string operationId, string summary) => builder
        .WithTags(tag).WithName(operationId).WithSummary(summary);

    public static RouteHandlerBuilder Operation(this RouteHandlerBuilder builder, string tag, string operationId, string summary, string description) =>
        builder.Operation(tag, operationId, summary).WithDescription(description);

    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>A query parameter the endpoint reads itself (a 400 names it when it is malformed).</summary>
    public static RouteHandlerBuilder ReadsQuery(this RouteHandlerBuilder builder, string name, string description, string[]? values = null, string? format = null) =>
        builder.WithMetadata(new RequestParameterMetadata(ParameterLocation.Query, name, description, Required: false, values, format));

    /// <summary>An optional request header the endpoint reads.</summary>
    public static RouteHandlerBuilder ReadsHeader(this RouteHandlerBuilder builder, string name, string description, bool required = false) =>
        builder.WithMetadata(new RequestParameterMetadata(ParameterLocation.Header, name, description, required, null, null));

    /// <summary><c>page</c> and <c>page_size</c> of a list (<see cref="ApiPaging"/>).</summary>
    public static RouteHandlerBuilder ReadsPaging(this RouteHandlerBuilder builder) => builder
        .WithMetadata(new RequestParameterMetadata(ParameterLocation.Query, "page", "The page, from 1 (default 1).", Required: false, null, null, Integer: true))
        .WithMetadata(new RequestParameterMetadata(ParameterLocation.Query, "page_size", "Items per page: 10, 20 (default), 25 or 50.", Required: false, ["10", "20", "25", "50"], null, Integer: true));

    /// <summary>
    /// A channel type's hook (<see cref="HookShape"/>): its body, the headers it reads (its signature), its successes, and the
    /// problems every hook can answer with: 400 a bad body, 401 a bad signature, 404 no such channel, 413, 503 busy.
    /// </summary>
    public static RouteHandlerBuilder DescribeHook(this RouteHandlerBuilder builder, HookShape shape)
    {
        builder.Operation(HooksTag, shape.OperationId, shape.Summary).WithDescription(shape.Description).WithMetadata(shape);
        if (shape.Body is { } body) builder.WithMetadata(new JsonBodyMetadata(body, KeepRequired: true));
        foreach (var header in shape.Headers) builder.ReadsHeader(header.Name, header.Description, header.Required);
        foreach (var parameter in shape.Query ?? [])
        {
            builder.WithMetadata(new RequestParameterMetadata(ParameterLocation.Query, parameter.Name, parameter.Description, parameter.Required, null, null));
        }
        foreach (var answer in shape.Answers)
        {
            if (answer.Body is null) builder.Produces(answer.Status);
            else if (answer.ContentType is { } contentType) builder.Produces(answer.Status, answer.Body, contentType);
            else builder.Produces(answer.Status, answer.Body);
        }
        foreach (var status in shape.Problems ?? []) builder.ProducesProblem(status);
        return builder.ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    public const string HooksTag = "hooks";

    public const string OpsTag = "ops";

    /// <summary>The document's tags, in this order, with what each holds.</summary>
    private static readonly (string Name, string Description)[] Tags =
    [
        ("tenants", "Tenants (admin key)."),
        ("keys", "API keys: created by an admin key; listed and revoked by either kind."),
        ("channels", "A tenant's channels: where messages come in and go out."),
        ("routes", "A tenant's routes: which messages go where."),
        ("messages", "Send messages and read them back with their status history."),
        ("webhooks", "Subscriptions to a tenant's events, and their deliveries."),
        (HooksTag, "Inbound pushes of the platforms, one per channel type (no API key: signed per channel)."),
        (OpsTag, "Health, memory and metrics for operators (no API key)."),
    ];

    public static RouteHandlerBuilder ProducesNotFound(this RouteHandlerBuilder builder) => builder.ProducesProblem(StatusCodes.Status404NotFound);

    /// <summary>409: a taken id, a channel a route still uses.</summary>
    public static RouteHandlerBuilder ProducesConflict(this RouteHandlerBuilder builder) => builder.ProducesProblem(StatusCodes.Status409Conflict);

    /// <summary>What an endpoint reads itself: its JSON body (<see cref="ReadsJson"/>), query parameters and headers; a hook's answers.</summary>
    public static async Task DescribeOperation(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        foreach (var parameter in metadata.OfType<RequestParameterMetadata>())
        {
            operation.Parameters ??= [];
            var schema = new OpenApiSchema { Type = parameter.Integer ? JsonSchemaType.Integer : JsonSchemaType.String, Format = parameter.Format };
            if (parameter.Values is { } values)
            {
                schema.Enum = [.. values.Select(v => parameter.Integer ? JsonValue.Create(int.Parse(v, System.Globalization.CultureInfo.InvariantCulture)) : (JsonNode)JsonValue.Create(v))];
            }
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = parameter.Name,
                In = parameter.In,
                Required = parameter.Required,
                Description = parameter.Description,
                Schema = schema,
            });
        }
        if (metadata.OfType<HookShape>().LastOrDefault() is { } hook && operation.Responses is { } responses)
        {
            foreach (var answer in hook.Answers)
            {
                if (responses.TryGetValue(answer.Status.ToString(System.Globalization.CultureInfo.InvariantCulture), out var response) && response is OpenApiResponse described)
                {
                    described.Description = answer.Description;
                }
            }
        }
        if (metadata.OfType<JsonBodyMetadata>().LastOrDefault() is not { } body) return;
        var bodySchema = await context.GetOrCreateSchemaAsync(body.Type, null, cancellationToken).ConfigureAwait(false);
        // Request fields are all optional to the parser (a missing one is a 400 naming it), whatever the record's constructor says.
        if (!body.KeepRequired) NothingRequired(bodySchema);
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal) { ["application/json"] = new OpenApiMediaType { Schema = bodySchema } },
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

    /// <summary>
    /// The Bearer key scheme in the document, on every /v1 operation, and an explicit <c>security: []</c> on the others (hooks are
    /// signed per channel, ops endpoints are open); the tags with their descriptions; the server without a trailing slash.
    /// </summary>
    public static Task DeclareSecurity(OpenApiDocument document)
    {
        foreach (var server in document.Servers ?? []) server.Url = server.Url?.TrimEnd('/');
        document.Tags ??= new HashSet<OpenApiTag>();
        document.Tags.Clear();
        foreach (var (name, description) in Tags) document.Tags.Add(new OpenApiTag { Name = name, Description = description });
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
            if (item.Operations is null) continue;
            foreach (var operation in item.Operations.Values)
            {
                if (!path.StartsWith("/v1/", StringComparison.Ordinal))
                {
                    operation.Security = [];
                    continue;
                }
                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SecuritySchemeName, document)] = [] });
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// A property that can be null is not required: the API writes no nulls (<c>WhenWritingNull</c>), so such a field is absent on
    /// the wire, not null, and a client must not expect it. (The schema generator counts every constructor parameter as required.)
    /// </summary>
    public static Task NullableIsOptional(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        NullableIsOptional(schema);
        return Task.CompletedTask;
    }

    /// <summary>As the schema transformer, over the component schemas (a nullable reference is wrapped in its oneOf only when the document is put together).</summary>
    public static void NullableIsOptional(OpenApiDocument document)
    {
        foreach (var schema in document.Components?.Schemas?.Values ?? []) NullableIsOptional(schema);
    }

    private static void NullableIsOptional(IOpenApiSchema schema)
    {
        if (schema is not OpenApiSchema { Required: { Count: > 0 } required, Properties: { } properties }) return;
        foreach (var (name, property) in properties)
        {
            if (CanBeNull(property)) required.Remove(name);
        }
    }

    private static bool CanBeNull(IOpenApiSchema property) =>
        property is OpenApiSchema inline
        && ((inline.Type is { } type && type.HasFlag(JsonSchemaType.Null)) || (inline.OneOf ?? []).Concat(inline.AnyOf ?? []).Any(CanBeNull));

    /// <summary>
    /// A channel's request and answer name each channel type's settings object as a property of its own (the types'
    /// <see cref="ChannelSettingsShape"/>), in place of the open-ended extension data the records carry them in.
    /// </summary>
    public static async Task DescribeChannelSettings(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        var types = context.ApplicationServices.GetRequiredService<ChannelTypeRegistry>();
        if (context.JsonTypeInfo.Type == typeof(SendMessageRequest))
        {
            await DescribeSendOptions(schema, context, types, cancellationToken).ConfigureAwait(false);
            return;
        }
        var request = context.JsonTypeInfo.Type == typeof(ChannelRequest);
        if (!request && context.JsonTypeInfo.Type != typeof(ChannelResponse)) return;
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

    /// <summary>A send names each channel type's send options object (a WhatsApp template, a read mark) as a property of its own.</summary>
    private static async Task DescribeSendOptions(OpenApiSchema schema, OpenApiSchemaTransformerContext context, ChannelTypeRegistry types, CancellationToken cancellationToken)
    {
        schema.Properties ??= new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal);
        foreach (var type in types.All)
        {
            if (type is not IChannelSendOptions options) continue;
            var shape = await context.GetOrCreateSchemaAsync(options.SendOptionsShape.Request, null, cancellationToken).ConfigureAwait(false);
            if (shape is OpenApiSchema inline) inline.Description ??= $"Only for a {type.Name} channel: what its chats take beyond text and media.";
            schema.Properties[options.SendOptionsProperty] = shape;
        }
        schema.AdditionalProperties = null;
        schema.AdditionalPropertiesAllowed = false;
    }
}

/// <summary>The type of the JSON body an endpoint reads itself (for the OpenAPI document only). <paramref name="KeepRequired"/>: show the type's required fields (a hook's body).</summary>
internal sealed record JsonBodyMetadata(Type Type, bool KeepRequired = false);

/// <summary>A query parameter or header an endpoint reads itself (for the OpenAPI document only).</summary>
internal sealed record RequestParameterMetadata(ParameterLocation In, string Name, string Description, bool Required, string[]? Values, string? Format, bool Integer = false);
