using System.Collections.Concurrent;
using Tern.Core.Catalog;
using Tern.Core.Delivery;

namespace Tern.Core.Tests.Doubles;

/// <summary>
/// A channel client whose answers a test scripts per call. It records every call and how many sends
/// were in flight at once, overall and per channel.
/// </summary>
internal sealed class ScriptedSender(string channelType, Func<SendCall, Task<SendResult>> script) : IChannelSender
{
    private readonly ConcurrentQueue<SendCall> _calls = new();
    private readonly ConcurrentDictionary<string, int> _inFlightByChannel = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _maxByChannel = new(StringComparer.Ordinal);
    private int _inFlight;
    private int _maxInFlight;

    public string ChannelType => channelType;

    public IReadOnlyList<SendCall> Calls => _calls.ToList();

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public int InFlight => Volatile.Read(ref _inFlight);

    public int InFlightFor(string channelId) => _inFlightByChannel.GetValueOrDefault(channelId);

    public int MaxInFlightFor(string channelId) => _maxByChannel.GetValueOrDefault(channelId);

    public int CallsTo(string channelId) => _calls.Count(c => c.Channel.Id == channelId);

    public async Task<SendResult> SendAsync(ChannelDefinition channel, PendingDelivery delivery, CancellationToken cancellationToken)
    {
        var call = new SendCall(channel, delivery, _calls.Count(c => c.Delivery.Id == delivery.Id), cancellationToken);
        _calls.Enqueue(call);
        var now = Interlocked.Increment(ref _inFlight);
        UpdateMax(ref _maxInFlight, now);
        var mine = _inFlightByChannel.AddOrUpdate(channel.Id, 1, (_, n) => n + 1);
        _maxByChannel.AddOrUpdate(channel.Id, mine, (_, n) => Math.Max(n, mine));
        try
        {
            return await script(call);
        }
        finally
        {
            _inFlightByChannel.AddOrUpdate(channel.Id, 0, (_, n) => n - 1);
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private static void UpdateMax(ref int max, int value)
    {
        int seen;
        do
        {
            seen = Volatile.Read(ref max);
        }
        while (value > seen && Interlocked.CompareExchange(ref max, value, seen) != seen);
    }
}

/// <param name="Channel">The channel sent to.</param>
/// <param name="Delivery">The delivery as the engine passed it.</param>
/// <param name="PreviousCalls">Earlier calls for the same delivery (0 for the first try).</param>
/// <param name="Token">The token the engine passed.</param>
internal sealed record SendCall(ChannelDefinition Channel, PendingDelivery Delivery, int PreviousCalls, CancellationToken Token);
