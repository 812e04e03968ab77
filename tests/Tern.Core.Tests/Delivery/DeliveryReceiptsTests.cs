using Tern.Core.Delivery;

namespace Tern.Core.Tests.Delivery;

public sealed class DeliveryReceiptsTests
{
    /// <summary>
    /// Every (current, incoming) pair: the status only moves forward (sent, delivered, read, played); failed replaces nothing
    /// yet, sent or delivered, but never a read or played message; nothing replaces failed; a status never replaces itself.
    /// </summary>
    public static TheoryData<string?, string, bool> Pairs => new()
    {
        { null, "sent", true },
        { null, "delivered", true },
        { null, "read", true },
        { null, "played", true },
        { null, "failed", true },

        { "sent", "sent", false },
        { "sent", "delivered", true },
        { "sent", "read", true },
        { "sent", "played", true },
        { "sent", "failed", true },

        { "delivered", "sent", false },
        { "delivered", "delivered", false },
        { "delivered", "read", true },
        { "delivered", "played", true },
        { "delivered", "failed", true },

        { "read", "sent", false },
        { "read", "delivered", false },
        { "read", "read", false },
        { "read", "played", true },
        { "read", "failed", false },

        { "played", "sent", false },
        { "played", "delivered", false },
        { "played", "read", false },
        { "played", "played", false },
        { "played", "failed", false },

        { "failed", "sent", false },
        { "failed", "delivered", false },
        { "failed", "read", false },
        { "failed", "played", false },
        { "failed", "failed", false },
    };

    [Theory]
    [MemberData(nameof(Pairs))]
    public void MovesForward_only_moves_a_message_forward(string? current, string incoming, bool expected) =>
        Assert.Equal(expected, DeliveryReceipts.MovesForward(current, incoming));

    [Fact]
    public void The_pairs_cover_every_status_as_current_and_none_and_every_status_as_incoming()
    {
        var pairs = Pairs.Select(row => ((string?)row[0], (string)row[1]!)).ToHashSet();
        var currents = DeliveryReceipts.Statuses.Cast<string?>().Prepend(null).ToList();
        Assert.Equal(currents.Count * DeliveryReceipts.Statuses.Count, pairs.Count);
        foreach (var current in currents)
        {
            foreach (var incoming in DeliveryReceipts.Statuses) Assert.Contains((current, incoming), pairs);
        }
    }
}
