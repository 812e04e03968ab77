using System.Text.Json.Serialization;
using Tern.Channels.Webhook;

namespace Tern.Channels;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(AcceptedMessage))]
[JsonSerializable(typeof(InboundMessageShape))]
[JsonSerializable(typeof(Telegram.TelegramUpdateShape))]
[JsonSerializable(typeof(WhatsApp.WhatsAppAccepted))]
[JsonSerializable(typeof(WhatsApp.WhatsAppWebhookShape))]
public sealed partial class ChannelsJsonContext : JsonSerializerContext;
