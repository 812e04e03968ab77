using Tern.Channels.Http;
using System.Text.Json.Nodes;
using Tern.Channels.Telegram;
using Tern.Channels.Telegram.BotApi;
using Tern.Core.Catalog;

namespace Tern.Channels.Tests.Telegram;

/// <summary>The Telegram channel type's settings contract, without a Bot API (nothing here is verified).</summary>
public sealed class TelegramChannelTypeTests : IDisposable
{
    private readonly HttpClient _http = new();
    private readonly TelegramChannelType _type;

    public TelegramChannelTypeTests() => _type = new TelegramChannelType(new BotApiClient(_http), DestinationPolicy.PublicOnly, TimeSpan.FromSeconds(1));

    public void Dispose() => _http.Dispose();

    [Fact]
    public void Flags_become_the_settings_object_the_API_takes()
    {
        var errors = new List<FieldError>();
        var settings = _type.SettingsFromFlags(new Dictionary<string, string>
        {
            ["token"] = "1:abc", ["mode"] = "webhook", ["base-url"] = "http://127.0.0.1:1/", ["limits"] = "bot_per_second=10,chat_per_second=0.5",
        }, errors);
        Assert.Empty(errors);
        Assert.Equal("""{"token":"1:abc","mode":"webhook","base_url":"http://127.0.0.1:1/","limits":{"bot_per_second":10,"chat_per_second":0.5}}""", settings!.ToJsonString());
    }

    [Theory]
    [InlineData("chat_burst", "'chat_burst': expected name=number")]
    [InlineData("speed=3", "'speed': not a limit (known: bot_per_second, chat_per_second, chat_burst, group_per_minute)")]
    public void The_syntax_of_limits_is_the_flags_own_problem(string limits, string problem)
    {
        var errors = new List<FieldError>();
        Assert.Null(_type.SettingsFromFlags(new Dictionary<string, string> { ["limits"] = limits }, errors));
        Assert.Equal(new FieldError("limits", problem), Assert.Single(errors));
    }

    [Fact]
    public async Task Problems_name_fields_relative_to_the_settings_object_and_all_are_reported()
    {
        var errors = new List<FieldError>();
        var settings = new JsonObject { ["token"] = "not-a-token", ["mode"] = "push", ["webhook_url"] = "ftp://x", ["limits"] = new JsonObject { ["chat_burst"] = 0 } };
        Assert.Null(await _type.PrepareAsync(settings, null, verify: true, errors, CancellationToken.None));
        Assert.Equal(["token", "mode", "webhook_url", "limits"], errors.Select(e => e.Field));
        Assert.All(errors, e => Assert.False(e.Remote));
        Assert.DoesNotContain(errors, e => e.Message.Contains("not-a-token", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_missing_settings_object_is_a_problem_of_the_object_itself()
    {
        var errors = new List<FieldError>();
        Assert.Null(await _type.PrepareAsync(null, null, verify: true, errors, CancellationToken.None));
        Assert.Equal("", Assert.Single(errors).Field);
    }

    [Fact]
    public void Descriptions_never_show_the_token()
    {
        var settings = new TelegramSettings("123:SECRET_part", IngressMode.Polling, null, null, null, 123, "tern_bot");
        var channel = new ChannelDefinition("tg", TelegramChannelType.TypeName, null, null, null, SettingsJson: settings.ToJson());
        var shown = _type.Describe(channel)!.ToJsonString() + _type.Target(channel) + _type.Summary(channel);
        Assert.DoesNotContain("SECRET", shown, StringComparison.Ordinal);
        Assert.Equal("@tern_bot (polling)", _type.Target(channel));
        Assert.Equal("tern_bot", _type.Describe(channel)!["bot_username"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("-1001234567890", null)]
    [InlineData("customer-42", "must be a Telegram chat id (e.g. -1001234567890) or @channelusername, optionally #topic")]
    public void Destination_chats_follow_Telegrams_rules(string chat, string? problem) => Assert.Equal(problem, _type.CheckDestinationChat(chat));
}
