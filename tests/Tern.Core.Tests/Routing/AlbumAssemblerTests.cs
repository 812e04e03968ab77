using Tern.Core.Messages;
using Tern.Core.Pipeline;

namespace Tern.Core.Tests.Routing;

public sealed class AlbumAssemblerTests
{
    private static InboxItem Item(long seq, string chat = "c1", string? group = null, MessageKind kind = MessageKind.Message) =>
        new(seq, new Envelope("in", "p" + seq, chat, null, "t" + seq, null, 0, kind, seq.ToString(System.Globalization.CultureInfo.InvariantCulture), null, group));

    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(10);

    private static List<long[]> Seqs(List<IReadOnlyList<InboxItem>> ready) => ready.Select(u => u.Select(i => i.Seq).ToArray()).ToList();

    [Fact]
    public void An_album_closes_when_its_chat_moves_on_and_goes_out_before_the_next_message()
    {
        var buffer = new AlbumBuffer(16, Quiet, MaxAge);
        var albums = buffer.CreateAssembler(16);
        var ready = new List<IReadOnlyList<InboxItem>>();

        albums.Accept(Item(1, group: "g"), 0, ready);
        albums.Accept(Item(2, chat: "other"), 0, ready);
        albums.Accept(Item(3, group: "g"), 10, ready);
        Assert.Equal([[2L]], Seqs(ready));
        Assert.Equal(1, buffer.Count);

        albums.Accept(Item(4), 20, ready);
        Assert.Equal([[2L], [1L, 3L], [4L]], Seqs(ready));
        Assert.Equal(0, buffer.Count);
        Assert.Equal(0, buffer.Evictions);
    }

    [Fact]
    public void A_quiet_album_goes_out_after_the_quiet_time_while_a_busy_one_stays_open()
    {
        var buffer = new AlbumBuffer(16, Quiet, MaxAge);
        var albums = buffer.CreateAssembler(16);
        var ready = new List<IReadOnlyList<InboxItem>>();
        albums.Accept(Item(1, group: "quiet"), 0, ready);
        albums.Accept(Item(2, chat: "busy", group: "b"), 0, ready);
        Assert.Equal(1_000, albums.NextDeadlineMs);

        albums.Accept(Item(3, chat: "busy", group: "b"), 500, ready);
        albums.Accept(Item(4, chat: "busy", group: "b"), 900, ready);
        albums.Expire(999, ready);
        Assert.Empty(ready);
        albums.Expire(1_000, ready);
        Assert.Equal([[1L]], Seqs(ready));
        Assert.Equal(1_900, albums.NextDeadlineMs);
        albums.Expire(1_900, ready);
        Assert.Equal([[1L], [2L, 3L, 4L]], Seqs(ready));
    }

    [Fact]
    public void An_album_of_ten_closes_at_once()
    {
        var buffer = new AlbumBuffer(16, Quiet, MaxAge);
        var albums = buffer.CreateAssembler(16);
        var ready = new List<IReadOnlyList<InboxItem>>();
        for (var i = 1; i <= 10; i++) albums.Accept(Item(i, group: "g"), i, ready);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i).ToArray(), Assert.Single(Seqs(ready)));
        albums.Accept(Item(11, group: "g"), 20, ready);
        Assert.Equal(1, albums.OpenCount);
    }

    [Fact]
    public void A_busy_album_goes_out_at_its_maximum_age()
    {
        var buffer = new AlbumBuffer(16, Quiet, TimeSpan.FromSeconds(3));
        var albums = buffer.CreateAssembler(16);
        var ready = new List<IReadOnlyList<InboxItem>>();
        albums.Accept(Item(1, group: "g"), 0, ready);
        albums.Accept(Item(2, group: "g"), 900, ready);
        albums.Accept(Item(3, group: "g"), 1_800, ready);
        albums.Accept(Item(4, group: "g"), 2_700, ready);
        Assert.Equal(3_000, albums.NextDeadlineMs);
        albums.Expire(3_000, ready);
        Assert.Equal([[1L, 2L, 3L, 4L]], Seqs(ready));
    }

    [Fact]
    public void Edits_and_callbacks_are_never_held()
    {
        var buffer = new AlbumBuffer(16, Quiet, MaxAge);
        var albums = buffer.CreateAssembler(16);
        var ready = new List<IReadOnlyList<InboxItem>>();
        albums.Accept(Item(1, group: "g", kind: MessageKind.Edit), 0, ready);
        albums.Accept(Item(2, group: "g", kind: MessageKind.Callback), 0, ready);
        Assert.Equal([[1L], [2L]], Seqs(ready));
        Assert.Null(albums.NextDeadlineMs);
    }

    [Fact]
    public void When_full_the_oldest_album_goes_out_early_and_is_counted()
    {
        var buffer = new AlbumBuffer(2, Quiet, MaxAge);
        var albums = buffer.CreateAssembler(2);
        var ready = new List<IReadOnlyList<InboxItem>>();
        albums.Accept(Item(1, chat: "a", group: "ga"), 0, ready);
        albums.Accept(Item(2, chat: "b", group: "gb"), 1, ready);
        albums.Accept(Item(3, chat: "c", group: "gc"), 2, ready);

        Assert.Equal([[1L]], Seqs(ready));
        Assert.Equal(2, buffer.Count);
        Assert.Equal(1, buffer.Evictions);
    }

    [Fact]
    public void Trim_under_memory_pressure_sends_every_open_album_as_it_is()
    {
        var buffer = new AlbumBuffer(8, Quiet, MaxAge);
        var albums = buffer.CreateAssembler(8);
        var ready = new List<IReadOnlyList<InboxItem>>();
        albums.Accept(Item(1, chat: "a", group: "ga"), 0, ready);
        albums.Accept(Item(2, chat: "b", group: "gb"), 0, ready);

        Assert.Equal(2, buffer.Trim(0));
        albums.Expire(1, ready);

        Assert.Equal([[1L], [2L]], Seqs(ready));
        Assert.Equal(0, buffer.Count);
        Assert.Equal(2, buffer.Evictions);
    }

    [Fact]
    public void Abandoning_at_shutdown_forgets_the_albums_without_routing_them()
    {
        var buffer = new AlbumBuffer(8, Quiet, MaxAge);
        var albums = buffer.CreateAssembler(8);
        var ready = new List<IReadOnlyList<InboxItem>>();
        albums.Accept(Item(1, group: "g"), 0, ready);
        albums.Abandon();
        Assert.Empty(ready);
        Assert.Equal(0, buffer.Count);
    }
}
