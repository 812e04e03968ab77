using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using static System.FormattableString;

namespace Tern.Bench;

/// <summary>What the driver asks a running tern over HTTP: readiness, its counters, its memory plan.</summary>
internal static class TernHttp
{
    public static async Task WaitReadyAsync(HttpClient http, string baseUrl, TernProcess tern)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (tern.HasExited) throw new InvalidOperationException("tern exited at start:\n" + tern.Tail(30));
            try
            {
                using var response = await http.GetAsync(new Uri(baseUrl + "/health/ready"));
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new InvalidOperationException("tern was not ready within 30 s:\n" + tern.Tail(30));
    }

    /// <summary>The counters of /health/ready, as one line.</summary>
    public static async Task<string> ReadyCountersAsync(HttpClient http, string url)
    {
        try
        {
            using var document = JsonDocument.Parse(await http.GetStringAsync(new Uri(url)));
            var root = document.RootElement;
            string Field(string name) => root.TryGetProperty(name, out var v) ? v.GetRawText() : "?";
            return $"received {Field("received")}, delivered {Field("delivered")}, failed {Field("failed")}, retried {Field("retried")}, " +
                $"managed heap {Field("managed_heap_bytes")} B";
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException)
        {
            return "unavailable: " + ex.Message;
        }
    }

    /// <summary>The memory budget and the bounds derived from it, from GET /memory (when the build has it).</summary>
    public static async Task<string> MemoryPlanAsync(HttpClient http, string baseUrl)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(baseUrl + "/memory"));
            if (!response.IsSuccessStatusCode) return Invariant($"GET /memory: {(int)response.StatusCode}");
            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var root = document.RootElement;
            var text = new StringBuilder("budget ");
            if (root.TryGetProperty("budget_bytes", out var budget) && budget.TryGetInt64(out var bytes)) text.Append(Invariant($"{bytes / 1048576} MB"));
            if (root.TryGetProperty("budget_source", out var source)) text.Append(" (").Append(source.GetString()).Append(')');
            if (root.TryGetProperty("structures", out var structures) && structures.ValueKind == JsonValueKind.Array)
            {
                text.Append("; bounds:");
                foreach (var structure in structures.EnumerateArray())
                {
                    text.Append(' ').Append(structure.GetProperty("name").GetString()).Append('=').Append(structure.GetProperty("capacity").GetRawText());
                }
            }
            return text.ToString();
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException or TaskCanceledException)
        {
            return "GET /memory: " + ex.Message;
        }
    }

    /// <summary>What the bounded structures hold now, and the GC heap, from GET /memory: to tell what grew.</summary>
    public static async Task<string> MemoryHeldAsync(HttpClient http, string baseUrl)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(baseUrl + "/memory"));
            if (!response.IsSuccessStatusCode) return Invariant($"GET /memory: {(int)response.StatusCode}");
            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var root = document.RootElement;
            var text = new StringBuilder();
            if (root.TryGetProperty("gc_heap_bytes", out var heap) && root.TryGetProperty("gc_committed_bytes", out var committed))
            {
                text.Append(Invariant($"GC heap {heap.GetInt64() / 1048576.0:F1} MB, committed {committed.GetInt64() / 1048576.0:F1} MB; "));
            }
            text.Append("held:");
            if (root.TryGetProperty("structures", out var structures) && structures.ValueKind == JsonValueKind.Array)
            {
                foreach (var structure in structures.EnumerateArray())
                {
                    var count = structure.GetProperty("count").GetInt64();
                    if (count == 0) continue;
                    text.Append(' ').Append(structure.GetProperty("name").GetString())
                        .Append(Invariant($"={count}/{structure.GetProperty("capacity").GetInt64()}"));
                }
            }
            return text.ToString();
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException or TaskCanceledException or FormatException)
        {
            return "GET /memory: " + ex.Message;
        }
    }
}

/// <summary>Every 10 s: deliveries so far and the memory figures, to see whether memory follows N or levels off.</summary>
internal static class Progress
{
    /// <param name="delivered">messages delivered so far</param>
    /// <param name="more">anything the scenario adds to the line (or null)</param>
    /// <param name="pids">the run's tern instances (their figures are printed one after the other, "a / b")</param>
    public static async Task RunAsync(IReadOnlyList<int> pids, int n, Func<long> delivered, Func<string>? more, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(10));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var memory = pids.Select(ProcMemory.Read).ToList();
                var rss = string.Join(" / ", memory.Select(m => Invariant($"{m.RssKb / 1024.0,6:F1}")));
                var privateMb = string.Join(" / ", memory.Select(m => Invariant($"{m.PrivateKb / 1024.0,6:F1}")));
                Console.WriteLine(Invariant(
                    $"  {Stopwatch.GetElapsedTime(start).TotalSeconds,5:F0} s  delivered {delivered(),7}/{n}  RSS {rss} MB  private {privateMb} MB") + more?.Invoke());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
