using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Tern.Channels.Telegram.BotApi;

namespace Tern.Channels.Tests.Telegram;

/// <summary>
/// Tern's Bot API types checked against the published description (specs/telegram-bot-api.json, Bot
/// API 10.1): every field Tern reads or writes exists there under the same name, with a compatible
/// type; optional fields are nullable when read; required parameters are always sent.
/// </summary>
public sealed class BotApiSpecTests
{
    private static readonly JsonElement Spec = LoadSpec();

    private static JsonElement LoadSpec()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "specs", "telegram-bot-api.json");
            if (File.Exists(path)) return JsonDocument.Parse(File.ReadAllText(path)).RootElement.Clone();
        }
        throw new FileNotFoundException("specs/telegram-bot-api.json not found above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string, string> ReadTypes() => new()
    {
        { nameof(User), "User" }, { nameof(Chat), "Chat" }, { nameof(Message), "Message" }, { nameof(PhotoSize), "PhotoSize" },
        { nameof(Video), "Video" }, { nameof(Document), "Document" }, { nameof(Audio), "Audio" }, { nameof(Voice), "Voice" },
        { nameof(Animation), "Animation" }, { nameof(Sticker), "Sticker" }, { nameof(VideoNote), "VideoNote" }, { nameof(Contact), "Contact" },
        { nameof(Location), "Location" }, { nameof(Venue), "Venue" }, { nameof(Dice), "Dice" }, { nameof(Poll), "Poll" },
        { nameof(CallbackQuery), "CallbackQuery" }, { nameof(Update), "Update" }, { nameof(MessageId), "MessageId" },
        { nameof(TelegramFile), "File" }, { nameof(WebhookInfo), "WebhookInfo" }, { nameof(ResponseParameters), "ResponseParameters" },
    };

    public static TheoryData<string, string> Requests() => new()
    {
        { nameof(GetUpdatesRequest), "getUpdates" }, { nameof(SetWebhookRequest), "setWebhook" }, { nameof(DeleteWebhookRequest), "deleteWebhook" },
        { nameof(GetFileRequest), "getFile" }, { nameof(SendMessageRequest), "sendMessage" }, { nameof(CopyMessageRequest), "copyMessage" },
        { nameof(CopyMessagesRequest), "copyMessages" }, { nameof(ForwardMessageRequest), "forwardMessage" }, { nameof(ForwardMessagesRequest), "forwardMessages" },
        { nameof(SendMediaGroupRequest), "sendMediaGroup" }, { nameof(EditMessageTextRequest), "editMessageText" },
        { nameof(EditMessageCaptionRequest), "editMessageCaption" }, { nameof(EmptyRequest), "getMe" },
    };

    [Theory]
    [MemberData(nameof(ReadTypes))]
    public void Every_field_Tern_reads_is_in_the_spec_and_optional_ones_are_nullable(string typeName, string specType)
    {
        var fields = Fields(Spec.GetProperty("types").GetProperty(specType));
        var info = TypeInfo(typeName);
        Assert.NotEmpty(info.Properties);
        foreach (var property in info.Properties)
        {
            Assert.True(fields.TryGetValue(property.Name, out var field), $"{typeName}.{property.Name}: no field '{property.Name}' in {specType}");
            AssertCompatible(typeName, property, field.Types);
            if (!field.Required)
            {
                Assert.True(IsNullable(info.Type, property), $"{typeName}.{property.Name} is optional in {specType} and must be nullable");
            }
        }
        // And the other way round: what the spec says is always there, a reader may rely on.
        Assert.All(info.Properties.Where(p => !IsNullable(info.Type, p)), p => Assert.True(fields[p.Name].Required, $"{typeName}.{p.Name}"));
    }

    [Theory]
    [MemberData(nameof(Requests))]
    public void Every_parameter_Tern_sends_is_in_the_spec_and_required_ones_are_always_sent(string typeName, string method)
    {
        var fields = Fields(Spec.GetProperty("methods").GetProperty(method));
        var info = TypeInfo(typeName);
        foreach (var property in info.Properties)
        {
            Assert.True(fields.TryGetValue(property.Name, out var field), $"{typeName}.{property.Name}: {method} has no parameter '{property.Name}'");
            AssertCompatible(typeName, property, field.Types);
        }
        foreach (var (name, field) in fields.Where(f => f.Value.Required))
        {
            var property = info.Properties.FirstOrDefault(p => p.Name == name);
            Assert.True(property is not null, $"{method} requires '{name}', which {typeName} does not send");
            Assert.False(IsNullable(info.Type, property), $"{typeName}.{name} is required by {method} and must not be nullable");
        }
    }

    [Theory]
    [InlineData("photo", "sendPhoto")]
    [InlineData("video", "sendVideo")]
    [InlineData("document", "sendDocument")]
    [InlineData("audio", "sendAudio")]
    [InlineData("voice", "sendVoice")]
    [InlineData("animation", "sendAnimation")]
    [InlineData("sticker", "sendSticker")]
    public void The_media_request_fits_every_media_method(string mediaField, string method)
    {
        var fields = Fields(Spec.GetProperty("methods").GetProperty(method));
        Assert.True(fields[mediaField].Required);
        foreach (var property in TypeInfo(nameof(SendMediaRequest)).Properties)
        {
            // Each method has its own media field; the rest must exist in all of them (stickers have no caption, which stays null for them).
            if (new[] { "photo", "video", "document", "audio", "voice", "animation", "sticker" }.Contains(property.Name) && property.Name != mediaField) continue;
            if (method == "sendSticker" && property.Name == "caption") continue;
            Assert.True(fields.ContainsKey(property.Name), $"{method} has no parameter '{property.Name}'");
        }
    }

    [Theory]
    [InlineData("InputMediaPhoto")]
    [InlineData("InputMediaVideo")]
    [InlineData("InputMediaDocument")]
    [InlineData("InputMediaAudio")]
    public void Album_items_fit_every_input_media_type(string specType)
    {
        var fields = Fields(Spec.GetProperty("types").GetProperty(specType));
        foreach (var property in TypeInfo(nameof(InputMedia)).Properties) Assert.True(fields.ContainsKey(property.Name), $"{specType} has no field '{property.Name}'");
    }

    [Fact]
    public void The_update_types_Tern_asks_for_are_update_fields()
    {
        var fields = Fields(Spec.GetProperty("types").GetProperty("Update"));
        Assert.All(Tern.Channels.Telegram.UpdateMapper.AllowedUpdates, u => Assert.True(fields.ContainsKey(u), u));
    }

    private sealed record SpecField(bool Required, string[] Types);

    private static Dictionary<string, SpecField> Fields(JsonElement definition) =>
        definition.TryGetProperty("fields", out var fields)
            ? fields.EnumerateArray().ToDictionary(
                f => f.GetProperty("name").GetString()!,
                f => new SpecField(f.GetProperty("required").GetBoolean(), f.GetProperty("types").EnumerateArray().Select(t => t.GetString()!).ToArray()),
                StringComparer.Ordinal)
            : new Dictionary<string, SpecField>(StringComparer.Ordinal);

    private static JsonTypeInfo TypeInfo(string typeName)
    {
        var type = typeof(BotApiClient).Assembly.GetType("Tern.Channels.Telegram.BotApi." + typeName) ?? throw new InvalidOperationException(typeName);
        return BotApiJsonContext.Default.GetTypeInfo(type) ?? throw new InvalidOperationException($"{typeName} is not in the JSON context");
    }

    private static bool IsNullable(Type owner, JsonPropertyInfo property)
    {
        if (Nullable.GetUnderlyingType(property.PropertyType) is not null) return true;
        if (property.PropertyType.IsValueType) return false;
        var member = owner.GetProperty(ToPascal(property.Name), BindingFlags.Public | BindingFlags.Instance)
            ?? owner.GetProperties().Single(p => p.GetCustomAttribute<System.Text.Json.Serialization.JsonPropertyNameAttribute>()?.Name == property.Name);
        return new NullabilityInfoContext().Create(member).ReadState == NullabilityState.Nullable;
    }

    private static string ToPascal(string snake) => string.Concat(snake.Split('_').Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    /// <summary>Spec types to CLR types: Integer is a long or int, String a string, Boolean a bool, Float a double, "Array of X" a list of X, an object type the record of that name.</summary>
    private static void AssertCompatible(string owner, JsonPropertyInfo property, string[] specTypes)
    {
        var clr = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        Assert.True(specTypes.Any(t => Fits(clr, t)), $"{owner}.{property.Name}: {clr.Name} does not fit {string.Join(" or ", specTypes)}");
    }

    private static bool Fits(Type clr, string specType)
    {
        if (specType.StartsWith("Array of ", StringComparison.Ordinal))
        {
            var element = clr.IsGenericType && clr.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) ? clr.GetGenericArguments()[0] : null;
            return element is not null && Fits(element, specType["Array of ".Length..]);
        }
        return specType switch
        {
            "Integer" => clr == typeof(long) || clr == typeof(int) || clr == typeof(string), // chat ids go out as numbers through ChatIdConverter
            "String" => clr == typeof(string),
            "Boolean" or "True" => clr == typeof(bool),
            "Float" => clr == typeof(double),
            "InputFile" => clr == typeof(string),
            "MaybeInaccessibleMessage" => clr == typeof(Message),
            "File" => clr == typeof(TelegramFile),
            _ => clr.Name == specType || (specType.StartsWith("InputMedia", StringComparison.Ordinal) && clr == typeof(InputMedia)),
        };
    }
}
