namespace Tern.StandIns.Telegram;

/// <summary>A chat's messages (indexed by id), topics, migration, and what bots sent to it. Guarded by the stand-in's lock.</summary>
internal sealed class ChatState(StandInChat info)
{
    public StandInChat Info { get; } = info;

    public Dictionary<int, StoredMessage> Messages { get; } = [];

    public HashSet<int> Topics { get; } = [];

    public List<SentMessage> Sent { get; } = [];

    public long? MigratedTo { get; set; }

    private int _lastMessageId;

    /// <summary>Message ids are per chat and increase, as in Telegram.</summary>
    public int NextMessageId() => ++_lastMessageId;

    public StoredMessage? Find(int messageId) => Messages.GetValueOrDefault(messageId);
}
