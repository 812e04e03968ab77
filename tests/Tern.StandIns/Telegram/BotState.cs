namespace Tern.StandIns.Telegram;

/// <summary>
/// A bot's queue of unconfirmed updates, in update_id order. Confirmation only ever removes a
/// prefix, so it is a list with a moving head (compacted now and then), not a linked structure.
/// </summary>
internal sealed class UpdateList
{
    private readonly List<PendingUpdate> _items = [];
    private int _head;

    public int Count => _items.Count - _head;

    public PendingUpdate? First => Count > 0 ? _items[_head] : null;

    public void Add(PendingUpdate update) => _items.Add(update);

    /// <summary>Confirms (forgets) every update with an id below <paramref name="offset"/>.</summary>
    public void ConfirmBelow(long offset)
    {
        while (_head < _items.Count && _items[_head].UpdateId < offset) _head++;
        Compact();
    }

    /// <summary>Keeps only the last <paramref name="count"/> updates: a negative getUpdates offset.</summary>
    public void KeepLast(int count)
    {
        if (Count > count) _head = _items.Count - count;
        Compact();
    }

    public void RemoveFirst()
    {
        if (Count == 0) return;
        _head++;
        Compact();
    }

    public void Clear()
    {
        _items.Clear();
        _head = 0;
    }

    public List<PendingUpdate> Take(int limit)
    {
        var count = Math.Min(limit, Count);
        return _items.GetRange(_head, count);
    }

    private void Compact()
    {
        if (_head == _items.Count)
        {
            Clear();
        }
        else if (_head > 1024 && _head > _items.Count / 2)
        {
            _items.RemoveRange(0, _head);
            _head = 0;
        }
    }
}

/// <summary>A waiting getUpdates. Completed with a conflict description when another call ends it.</summary>
internal sealed class LongPoll
{
    public TaskCompletionSource<string> Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>A webhook as setWebhook set it, with its pusher and what the pusher did.</summary>
internal sealed class WebhookConfig
{
    public const int MaxAttemptsKept = 10_000;

    public required Uri Url { get; init; }

    public required string? SecretToken { get; init; }

    public required int MaxConnections { get; init; }

    public CancellationTokenSource Stop { get; } = new();

    public Task Pusher { get; set; } = Task.CompletedTask;

    public long Attempted { get; set; }

    public long Acknowledged { get; set; }

    public DateTimeOffset? LastErrorDate { get; set; }

    public string? LastErrorMessage { get; set; }

    /// <summary>The most recent attempts, at most <see cref="MaxAttemptsKept"/>.</summary>
    public Queue<WebhookAttempt> Attempts { get; } = new();
}

/// <summary>Everything the stand-in keeps per bot. Guarded by the stand-in's lock.</summary>
internal sealed class BotState(StandInBot bot, long firstUpdateId)
{
    public StandInBot Bot { get; } = bot;

    public UserRef User { get; } = new(bot.Id, true, bot.FirstName, bot.Username);

    public UpdateList Pending { get; } = new();

    public long NextUpdateId { get; set; } = firstUpdateId;

    /// <summary>null: Telegram's default (every type except chat_member, message_reaction, message_reaction_count).</summary>
    public HashSet<string>? AllowedUpdates { get; set; }

    public LongPoll? ActivePoll { get; set; }

    /// <summary>Set while the test holds confirmations back; completed (and cleared) when it releases them.</summary>
    public TaskCompletionSource? ConfirmationHold { get; set; }

    /// <summary>getUpdates calls waiting on <see cref="ConfirmationHold"/> now.</summary>
    public int HeldGetUpdates { get; set; }

    /// <summary>Set while the test holds the answers to sending calls back; completed (and cleared) when it releases them.</summary>
    public TaskCompletionSource? AnswerHold { get; set; }

    /// <summary>Sending calls done but not answered, waiting on <see cref="AnswerHold"/> now.</summary>
    public int HeldAnswers { get; set; }

    public WebhookConfig? Webhook { get; set; }

    /// <summary>The pusher of the latest webhook, kept after the webhook is deleted.</summary>
    public Task LastPusher { get; set; } = Task.CompletedTask;

    public HashSet<long> BlockedIn { get; } = [];

    public HashSet<string> OpenCallbackQueries { get; } = new(StringComparer.Ordinal);

    /// <summary>file_paths getFile gave this bot; downloads of other paths are refused.</summary>
    public HashSet<string> IssuedPaths { get; } = new(StringComparer.Ordinal);

    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the next update is queued.</summary>
    public Task Arrived => _arrived.Task;

    public void SignalArrived()
    {
        var arrived = _arrived;
        _arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        arrived.TrySetResult();
    }
}
