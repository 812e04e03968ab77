using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Events;
using Tern.Core.Pipeline;
using Tern.Core.Tenancy;
using Tern.Server.Configuration;

namespace Tern.Server.Api;

/// <summary>Send messages and read them back (inbound and outbound), with filters, pages and status history.</summary>
internal static class MessageEndpoints
{
    private static readonly string[] MediaTypes = ["photo", "video", "document", "audio", "voice", "sticker", "animation"];
    private static readonly string[] Statuses = ["received", "routed", "queued", "retrying", "sent", "failed"];

    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapPost("/messages", async Task<IResult> (HttpContext context, CatalogCache catalog, IOutboxStore outbox, IMessageQueries queries, IngressGate gate, TernOptions options, TimeProvider time) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.SendMessageRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var request = body.Value!;
            var idempotencyKey = request.IdempotencyKey ?? NullIfEmpty(context.Request.Headers["Idempotency-Key"].ToString());

            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            ChannelDefinition? channel = null;
            if (request.Channel is null) ChannelEndpoints.Check(errors, "channel", "is required");
            else if ((channel = await ChannelEndpoints.FindAsync(catalog, tenant, request.Channel, context.RequestAborted)) is null) ChannelEndpoints.Check(errors, "channel", $"no channel '{request.Channel}'");
            else if (channel.Type == ChannelTypes.Webhook && channel.Url is null) ChannelEndpoints.Check(errors, "channel", $"channel '{request.Channel}' has no URL to deliver to");
            ChannelEndpoints.Check(errors, "chat", CatalogRules.Chat(request.Chat));
            if (request.Text is null && request.Media is null) ChannelEndpoints.Check(errors, "text", "text or media is required");
            if (request.Text is { Length: > 4096 }) ChannelEndpoints.Check(errors, "text", "must be at most 4096 characters");
            if (request.Media is { } media)
            {
                if (media.Type is null || !MediaTypes.Contains(media.Type)) ChannelEndpoints.Check(errors, "media.type", $"must be one of: {string.Join(", ", MediaTypes)}");
                if ((media.Url is null) == (media.FileId is null)) ChannelEndpoints.Check(errors, "media", "give exactly one of url and file_id");
                if (media.Url is not null && CatalogRules.Url(media.Url, out _) is { } urlProblem) ChannelEndpoints.Check(errors, "media.url", urlProblem);
                if (media.FileId is { Length: 0 or > 512 }) ChannelEndpoints.Check(errors, "media.file_id", "must be 1 to 512 characters");
            }
            if (idempotencyKey is { Length: > 200 }) ChannelEndpoints.Check(errors, "idempotency_key", "must be at most 200 characters");
            if (errors.Count > 0) return ApiProblems.Fields(errors);

            if (gate.RefusalReason() is { } reason)
            {
                context.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.Ingress.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Busy", detail: $"Not accepting messages now: {reason}.");
            }

            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var delivery = new NewDelivery(null, null, channel!.Id, request.Chat!, Payload(request, tenant, idempotencyKey), now, DeliveryKind.Message, tenant, idempotencyKey);
            var result = await outbox.EnqueueAsync(delivery, context.RequestAborted);
            var stored = await queries.GetAsync(tenant, TenantEvents.OutboundId(result.Id), context.RequestAborted);
            var response = ToResponse(stored!.Value.Message, null);
            return Results.Json(response, ApiJsonContext.Default.MessageResponse, statusCode: result.Existing ? StatusCodes.Status200OK : StatusCodes.Status202Accepted);
        });

        v1.MapGet("/messages", async Task<IResult> (HttpContext context, IMessageQueries queries) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var query = context.Request.Query;
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            var (page, pageSize) = ApiPaging.Read(query, errors);
            MessageDirection? direction = query["direction"].ToString() switch
            {
                "" => null,
                "in" => MessageDirection.In,
                "out" => MessageDirection.Out,
                _ => Invalid(errors, "direction", "must be in or out"),
            };
            var status = NullIfEmpty(query["status"].ToString());
            if (status is not null && !Statuses.Contains(status)) ChannelEndpoints.Check(errors, "status", $"must be one of: {string.Join(", ", Statuses)}");
            var since = Time(query["since"].ToString(), "since", errors);
            var until = Time(query["until"].ToString(), "until", errors);
            if (errors.Count > 0) return ApiProblems.Fields(errors);

            var filter = new MessageFilter(tenant, NullIfEmpty(query["channel"].ToString()), direction, status, NullIfEmpty(query["chat"].ToString()), since, until, page, pageSize);
            var result = await queries.ListAsync(filter, context.RequestAborted);
            return Results.Json(new MessagePage(result.Items.Select(m => ToResponse(m, null)).ToArray(), result.Page, result.PageSize, result.Total), ApiJsonContext.Default.MessagePage);
        });

        v1.MapGet("/messages/{id}", async Task<IResult> (HttpContext context, string id, IMessageQueries queries) =>
        {
            if (!context.TryTenant(out var tenant, out var problem)) return problem!;
            var found = await queries.GetAsync(tenant, id, context.RequestAborted);
            if (found is not { } message) return ApiProblems.NotFound($"No message '{id}'.");
            return Results.Json(ToResponse(message.Message, message.History), ApiJsonContext.Default.MessageResponse);
        });
    }

    /// <summary>The same neutral message shape routing produces, so a destination cannot tell an API send from a routed one except by its source.</summary>
    private static string Payload(SendMessageRequest request, string tenant, string? idempotencyKey)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("chat"u8, request.Chat);
            if (request.Text is not null) json.WriteString("text"u8, request.Text);
            if (request.Media is { } media)
            {
                json.WriteStartArray("attachments"u8);
                json.WriteStartObject();
                json.WriteString("type"u8, media.Type);
                if (media.Url is not null) json.WriteString("url"u8, media.Url);
                if (media.FileId is not null) json.WriteString("file_id"u8, media.FileId);
                json.WriteEndObject();
                json.WriteEndArray();
            }
            json.WriteStartObject("source"u8);
            json.WriteString("api"u8, tenant);
            if (idempotencyKey is not null) json.WriteString("idempotency_key"u8, idempotencyKey);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static MessageResponse ToResponse(MessageView m, IReadOnlyList<MessageStatusChange>? history)
    {
        JsonElement? attachments = null;
        var raw = m.AttachmentsJson;
        if (raw is null && m.Payload is not null)
        {
            using var payload = JsonDocument.Parse(m.Payload);
            if (payload.RootElement.TryGetProperty("attachments", out var fromPayload)) attachments = fromPayload.Clone();
        }
        else if (raw is not null)
        {
            using var document = JsonDocument.Parse(raw);
            attachments = document.RootElement.Clone();
        }
        return new MessageResponse(m.Id, m.Direction == MessageDirection.In ? "in" : "out", m.ChannelId, m.Chat, m.Status, m.PlatformId, m.Text, m.Sender,
            attachments, m.Attempts, m.LastError, m.CreatedAt, m.UpdatedAt, history?.Select(h => new StatusChangeResponse(h.At, h.Status, h.Detail)).ToArray());
    }

    private static DateTimeOffset? Time(string raw, string field, Dictionary<string, string[]> errors)
    {
        if (raw.Length == 0) return null;
        if (DateTimeOffset.TryParse(raw, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value)) return value;
        ChannelEndpoints.Check(errors, field, "must be an ISO 8601 time, e.g. 2026-11-24T10:00:00Z");
        return null;
    }

    private static MessageDirection? Invalid(Dictionary<string, string[]> errors, string field, string problem)
    {
        ChannelEndpoints.Check(errors, field, problem);
        return null;
    }

    internal static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
