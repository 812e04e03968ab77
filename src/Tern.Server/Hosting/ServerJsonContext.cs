using System.Text.Json.Serialization;
using Tern.Server.Endpoints;

namespace Tern.Server.Hosting;

public sealed record AliveReport(string Status);

public sealed record ReadyReport(
    string Status,
    string Database,
    bool Dispatcher,
    bool Sender,
    long InboxPending,
    long OutboxPending,
    int DispatchQueued,
    int DispatchCapacity,
    int SendsInFlight,
    long Received,
    long Delivered,
    long Failed,
    long Retried,
    long ManagedHeapBytes,
    long WorkingSetBytes,
    string? Error,
    IReadOnlyDictionary<string, string>? Channels = null,
    string? Instance = null,
    IReadOnlyList<string>? Leases = null);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AliveReport))]
[JsonSerializable(typeof(ReadyReport))]
[JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[JsonSerializable(typeof(MemoryReport))]
public sealed partial class ServerJsonContext : JsonSerializerContext;
