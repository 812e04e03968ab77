using Microsoft.Extensions.Time.Testing;
using Tern.Channels.Limits;
using Tern.Channels.Telegram;

namespace Tern.Channels.Tests.Telegram;

public sealed class SendWindowTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

    [Fact]
    public void A_slot_is_free_again_one_window_after_its_send_completed()
    {
        var window = new SendWindow(3, TimeSpan.FromSeconds(3), _time);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(window.TryAcquire(out _));
            window.Complete();
            _time.Advance(TimeSpan.FromMilliseconds(100));
        }
        Assert.False(window.TryAcquire(out var wait));
        // The first send completed 300 ms ago; it leaves the 3 s window in 2.7 s.
        Assert.Equal(TimeSpan.FromMilliseconds(2_700), wait);
        _time.Advance(wait - TimeSpan.FromMilliseconds(1));
        Assert.False(window.TryAcquire(out _));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(window.TryAcquire(out _));
    }

    [Fact]
    public void Sends_in_flight_hold_their_slots_however_long_they_take()
    {
        var window = new SendWindow(2, TimeSpan.FromSeconds(1), _time);
        Assert.True(window.TryAcquire(out _));
        Assert.True(window.TryAcquire(out _));
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(window.TryAcquire(out var wait));
        Assert.Equal(TimeSpan.FromSeconds(1), wait);
        window.Complete();
        Assert.False(window.TryAcquire(out _));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(window.TryAcquire(out _));
    }

    [Fact]
    public void A_released_slot_counts_for_nothing()
    {
        var window = new SendWindow(1, TimeSpan.FromMinutes(1), _time);
        Assert.True(window.TryAcquire(out _));
        window.Release();
        Assert.True(window.TryAcquire(out _));
        Assert.False(window.Idle);
        window.Release();
        Assert.True(window.Idle);
    }

    [Fact]
    public void The_limiter_applies_chat_group_and_bot_windows_and_says_which_said_no()
    {
        var limiter = new SendLimiter(100, _time);
        var limits = new SendLimits(BotPerSecond: 4, ChatPerSecond: 1, ChatBurst: 2, GroupPerMinute: 3);

        // Private chat: two back to back, then the third waits for the chat.
        Send("42");
        Send("42");
        Assert.Null(limiter.TryAcquire("bot", "42", limits, out var wait, out var botWide));
        Assert.False(botWide);
        Assert.Equal(TimeSpan.FromSeconds(2), wait);

        // Bot: four in any second, whatever the chats.
        Send("43");
        Send("44");
        Assert.Null(limiter.TryAcquire("bot", "45", limits, out _, out botWide));
        Assert.True(botWide);

        // Group: three a minute even when the chat and bot windows would allow more.
        _time.Advance(TimeSpan.FromSeconds(10));
        Send("-100");
        Send("-100");
        _time.Advance(TimeSpan.FromSeconds(5));
        Send("-100");
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(limiter.TryAcquire("bot", "-100", limits, out wait, out botWide));
        Assert.False(botWide);
        Assert.Equal(TimeSpan.FromSeconds(50), wait);
        // Another bot has windows of its own.
        Assert.NotNull(limiter.TryAcquire("other-bot", "-100", limits, out _, out _));

        void Send(string chat)
        {
            var lease = limiter.TryAcquire("bot", chat, limits, out _, out _);
            Assert.NotNull(lease);
            lease.Complete();
        }
    }

    [Fact]
    public void Zero_switches_a_limit_off()
    {
        var limiter = new SendLimiter(100, _time);
        var none = new SendLimits(0, 0, 1, 0);
        for (var i = 0; i < 1000; i++) Assert.NotNull(limiter.TryAcquire("bot", "-1", none, out _, out _));
        Assert.Equal(0, limiter.ChatWindows.Count);
    }

    [Fact]
    public void A_refused_send_holds_no_slot_in_the_windows_that_said_yes()
    {
        var limiter = new SendLimiter(100, _time);
        var limits = new SendLimits(BotPerSecond: 1, ChatPerSecond: 1, ChatBurst: 1, GroupPerMinute: 0);
        var first = limiter.TryAcquire("bot", "1", limits, out _, out _);
        Assert.NotNull(first);
        // Chat 2 is free, the bot is not: chat 2's slot is given back.
        Assert.Null(limiter.TryAcquire("bot", "2", limits, out _, out var botWide));
        Assert.True(botWide);
        first.Release();
        Assert.NotNull(limiter.TryAcquire("bot", "2", limits, out _, out _));
    }
}
