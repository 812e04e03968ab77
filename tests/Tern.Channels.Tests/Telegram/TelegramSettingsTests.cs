using Tern.Channels.Telegram;

namespace Tern.Channels.Tests.Telegram;

public sealed class TelegramSettingsTests
{
    [Theory]
    [InlineData("123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11", true)]
    [InlineData("1:a", true)]
    [InlineData("", false)]
    [InlineData("123456", false)]
    [InlineData(":abc", false)]
    [InlineData("12a:abc", false)]
    [InlineData("123:", false)]
    [InlineData("123:abc def", false)]
    [InlineData("123:abc/def", false)]
    public void Tokens_are_checked_for_their_shape(string token, bool valid) =>
        Assert.Equal(valid, TelegramSettings.CheckToken(token) is null);

    [Fact]
    public void Settings_round_trip_and_never_print_the_token()
    {
        var settings = new TelegramSettings("123:SECRET_part", IngressMode.Webhook, new Uri("http://127.0.0.1:8081"), new Uri("https://bot.example.com/hooks/telegram/tg"),
            new SendLimits(10, 0.5, 2, 5), 123, "tern_bot");
        var again = TelegramSettings.FromJson(settings.ToJson());
        Assert.Equal(settings, again);
        Assert.DoesNotContain("SECRET", settings.ToString(), StringComparison.Ordinal);
        Assert.Equal("123", settings.Endpoint().BotId);
        Assert.Equal("see bot*** at x", settings.Endpoint().Scrub("see bot123:SECRET_part at x"));
    }

    [Fact]
    public void Broken_settings_read_as_none()
    {
        Assert.Null(TelegramSettings.FromJson(null));
        Assert.Null(TelegramSettings.FromJson("{"));
        Assert.Null(TelegramSettings.FromJson("""{"mode":"polling"}"""));
        Assert.Equal(IngressMode.Polling, TelegramSettings.FromJson("""{"token":"1:a"}""")!.Mode);
    }

    [Fact]
    public void Secret_tokens_use_only_the_characters_the_bot_api_allows()
    {
        for (var i = 0; i < 50; i++)
        {
            var secret = TelegramSettings.NewSecretToken();
            Assert.InRange(secret.Length, 32, 256);
            Assert.All(secret, c => Assert.True(char.IsAsciiLetterOrDigit(c) || c is '_' or '-', $"'{c}' in {secret}"));
        }
        Assert.NotEqual(TelegramSettings.NewSecretToken(), TelegramSettings.NewSecretToken());
    }

    [Theory]
    [InlineData("bot_per_second=0,chat_per_second=2.5", null)]
    [InlineData("group_per_minute=60", null)]
    [InlineData("chat_burst=0", "chat_burst must be")]
    [InlineData("speed=3", "'speed': not a limit")]
    [InlineData("bot_per_second=fast", "expected name=number")]
    public void Limits_parse_from_the_command_line(string text, string? problem)
    {
        var error = TelegramSettings.TryParseLimits(text, out var limits);
        if (problem is null)
        {
            Assert.Null(error);
            Assert.NotNull(limits);
        }
        else
        {
            Assert.Contains(problem, error, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("-1001234#42", "-1001234", 42L)]
    [InlineData("-1001234", "-1001234", null)]
    [InlineData("@channel", "@channel", null)]
    [InlineData("order#x", "order#x", null)]
    [InlineData("#5", "#5", null)]
    public void A_lane_chat_names_a_forum_topic_after_a_hash(string lane, string chat, long? thread) =>
        Assert.Equal((chat, thread), TelegramSender.SplitTopic(lane));
}
