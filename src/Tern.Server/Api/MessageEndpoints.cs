using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Tern.Core.Catalog;
using Tern.Core.Delivery;
using Tern.Core.Events;
using Tern.Core.Pipeline;
using Tern.Core.Tenancy;
using Tern.Server.Application;
using Tern.Server.Configuration;

namespace Tern.Server.Api;

/// <summary>Send messages and read them back (inbound and outbound), with filters, pages and status history.</summary>
internal static class MessageEndpoints
{
    private static readonly string[] Statuses = ["received", "routed", "queued", "retrying", "sent", "delivered", "read", "played", "failed"];

    /// <summary>
    /// A field the record does not name is a channel type's send options object (a WhatsApp template or read mark), judged
    /// by the service against the channel's type; at most one, and an object.
    /// </summary>
    private static ProblemHttpResult? Options(SendMessageRequest request, ChannelTypeRegistry types)
    {
        string? seen = null;
        foreach (var (name, value) in request.TypeOptions ?? [])
        {
            if (types.BySendOptionsProperty(name) is null) return ApiProblems.Field(name, "is not a known field");
            if (value is not JsonObject) return ApiProblems.Field(name, "must be an object");
            if (seen is not null) return ApiProblems.Field(name, $"only one platform object can be given (already: {seen})");
            seen = name;
        }
        return null;
    }

    public static void Map(RouteGroupBuilder group)
    {
        group.MapPost("/messages", async Task<Results<Accepted<MessageResponse>, Ok<MessageResponse>, ProblemHttpResult>> (HttpContext context, MessageService messages, ChannelTypeRegistry types, TernOptions options) =>
        {
            var tenant = context.TenantId();
            var body = await ApiBody.ReadAsync(context.Request, ApiJsonContext.Default.SendMessageRequest, options.Api.MaxBodyBytes);
            if (body.Problem is not null) return body.Problem;
            var request = body.Value!;
            var idempotencyKey = request.IdempotencyKey ?? NullIfEmpty(context.Request.Headers[ApiResponses.IdempotencyKeyHeader].ToString());
            var media = request.Media is { } m ? new MessageMedia(m.Type, m.Url, m.FileId) : null;
            if (Options(request, types) is { } optionsProblem) return optionsProblem;
            var (property, platform) = request.TypeOptions is { Count: 1 } given ? (given.First().Key, (JsonObject?)given.First().Value) : (null, null);
            var sent = await messages.SendAsync(tenant, new MessageInput(request.Channel, request.Chat, request.Text, media, idempotencyKey, property, platform?.DeepClone().AsObject()),
                context.RequestAborted);
            if (!sent.IsOk)
            {
                if (sent.Failure!.Kind == FailureKind.Unavailable)
                {
                    context.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.Ingress.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                }
                return ApiProblems.From(sent.Failure);
            }
            // 200: the idempotency key was seen before, this is the message it made.
            var response = ToResponse(sent.Value.Message, null);
            return sent.Value.Existing ? TypedResults.Ok(response) : TypedResults.Accepted((string?)null, response);
        }).Operation("messages", "sendMessage", "Send a message")
            .ReadsHeader(ApiResponses.IdempotencyKeyHeader, "Makes a retried send safe: a key seen before answers 200 with the message it made (idempotency_key in the body wins).")
            .ReadsJson<SendMessageRequest>().ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        group.MapGet("/messages", async Task<Results<Ok<MessagePage>, ProblemHttpResult>> (HttpContext context, IMessageQueries queries) =>
        {
            var tenant = context.TenantId();
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
            return TypedResults.Ok(new MessagePage(result.Items.Select(m => ToResponse(m, null)).ToArray(), result.Page, result.PageSize, result.Total));
        }).Operation("messages", "listMessages", "List messages")
            .ReadsPaging()
            .ReadsQuery("channel", "Only messages through this channel.")
            .ReadsQuery("direction", "in: received; out: sent to a destination.", ["in", "out"])
            .ReadsQuery("status", "Only messages in this status.", Statuses)
            .ReadsQuery("chat", "Only this chat.")
            .ReadsQuery("since", "Created at or after this time (ISO 8601).", format: "date-time")
            .ReadsQuery("until", "Created before this time (ISO 8601); the end is not included, so consecutive windows do not overlap.", format: "date-time")
            .ProducesValidationProblem();

        group.MapGet("/messages/{id}", async Task<Results<Ok<MessageResponse>, ProblemHttpResult>> (HttpContext context, string id, IMessageQueries queries) =>
        {
            var tenant = context.TenantId();
            var found = await queries.GetAsync(tenant, id, context.RequestAborted);
            if (found is not { } message) return ApiProblems.NotFound($"No message '{id}'.");
            return TypedResults.Ok(ToResponse(message.Message, message.History));
        }).Operation("messages", "getMessage", "Get a message with its status history").ProducesNotFound();
    }

    private static MessageResponse ToResponse(MessageView m, IReadOnlyList<MessageStatusChange>? history)
    {
        JsonElement? attachments = null;
        var raw = m.AttachmentsJson;
        if (raw is null && m.Payload is not null) raw = DeliveryPayload.Parse(m.Payload, out _)?.Attachments?.Json;
        if (raw is not null)
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
