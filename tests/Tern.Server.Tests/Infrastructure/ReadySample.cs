using System.Text.Json;

namespace Tern.Server.Tests.Infrastructure;

/// <summary>The figures of <c>GET /health/ready</c> the tests look at.</summary>
public sealed record ReadySample(
    int HttpStatus,
    string Status,
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
    long WorkingSetBytes)
{
    public static ReadySample Parse(int httpStatus, string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return new ReadySample(
            httpStatus,
            root.GetProperty("status").GetString() ?? "",
            root.GetProperty("inbox_pending").GetInt64(),
            root.GetProperty("outbox_pending").GetInt64(),
            root.GetProperty("dispatch_queued").GetInt32(),
            root.GetProperty("dispatch_capacity").GetInt32(),
            root.GetProperty("sends_in_flight").GetInt32(),
            root.GetProperty("received").GetInt64(),
            root.GetProperty("delivered").GetInt64(),
            root.GetProperty("failed").GetInt64(),
            root.GetProperty("retried").GetInt64(),
            root.GetProperty("managed_heap_bytes").GetInt64(),
            root.GetProperty("working_set_bytes").GetInt64());
    }
}
