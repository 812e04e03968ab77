using System.Globalization;
using System.Net;
using Microsoft.Data.Sqlite;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests.Memory;

/// <summary>
/// Real <c>tern</c> processes on one real SQLite file, with thresholds far below what any .NET process
/// takes, so every run is at restart-level pressure from its first sample on.
/// </summary>
[Collection(HeavyTests.Name)]
public sealed class RestartLimitTests(ITestOutputHelper output)
{
    private static readonly string[] Settings =
    [
        "--Tern:Memory:Budget=64MB",
        "--Tern:Memory:WarningPercent=10",
        "--Tern:Memory:CriticalPercent=15",
        "--Tern:Memory:RestartPercent=20",
        "--Tern:Memory:SampleInterval=200ms",
        "--Tern:Memory:MaxRestartsPerHour=2",
        "--Tern:Ingress:RetryAfter=7s",
    ];

    [Fact]
    public async Task Two_runs_exit_75_for_a_restart_and_the_third_stays_up_shedding_load_until_SIGTERM()
    {
        using var home = TernHome.Create();
        await home.RunOkAsync("channels", "add", "--id", TernHome.InboundChannel, "--secret", TernHome.InboundSecret);

        for (var run = 1; run <= 2; run++)
        {
            var result = await ServeUntilExitAsync(home);
            output.WriteLine($"run {run}: {result}");
            Assert.True(result.ExitCode == 75, $"run {run} should exit 75 on its own: {result}");
            Assert.Equal(run, Restarts(home));
        }

        await using var tern = await home.StartAsync(output, Settings);
        await Eventually.UntilAsync(async () => (await MemoryJson.GetAsync(tern)).GetProperty("shedding").GetBoolean(), TimeSpan.FromSeconds(30),
            () => "the third run never started shedding load");

        // Ingress turns messages away, saying when to come back, in problem+json.
        using var poster = new MessagePoster(tern.BaseUrl);
        using (var refused = await poster.PostAsync(MessagePoster.Body("shed-1", "chat-a", "hello")))
        {
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)refused.StatusCode}: {body}");
            Assert.Equal("7", refused.Headers.RetryAfter?.ToString());
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            using var problem = System.Text.Json.JsonDocument.Parse(body);
            Assert.Equal(503, problem.RootElement.GetProperty("status").GetInt32());
            Assert.Contains("restart limit", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var memory = await MemoryJson.GetAsync(tern);
        Assert.True(memory.GetProperty("shedding").GetBoolean());
        Assert.Equal(2, memory.GetProperty("restarts_this_hour").GetInt32());
        Assert.Equal(2, memory.GetProperty("max_restarts_per_hour").GetInt32());
        Assert.Equal("restart", memory.GetProperty("pressure").GetString());
        Assert.True(memory.GetProperty("trims").GetInt64() >= 1, "critical pressure did not trim");
        Assert.Equal(HttpStatusCode.OK, await tern.HealthAsync());
        var metrics = PrometheusTextParser.Parse(await MemoryJson.GetMetricsAsync(tern));
        Assert.Equal(1, metrics["tern_memory_shedding"].Value());
        Assert.Equal(2, metrics["tern_restarts_last_hour"].Value());
        Assert.Equal(3, metrics["tern_memory_pressure_level"].Value());

        // Many more samples later it is still up, still shedding, and has recorded no third restart.
        var samplesLater = DateTime.UtcNow.AddSeconds(3);
        while (DateTime.UtcNow < samplesLater)
        {
            Assert.Equal(HttpStatusCode.OK, await tern.HealthAsync());
            await Task.Delay(200);
        }
        Assert.False(tern.HasExited, "the third run exited although the restart limit was spent");
        Assert.True((await MemoryJson.GetAsync(tern)).GetProperty("shedding").GetBoolean());
        Assert.Equal(2, Restarts(home));
        Assert.Equal(0, home.Database.InboxCount());

        tern.Terminate();
        Assert.Equal(0, await tern.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, Restarts(home));
    }

    /// <summary>Runs <c>tern serve</c> to its end (on a free port; another one if it was taken meanwhile).</summary>
    private static async Task<CliResult> ServeUntilExitAsync(TernHome home)
    {
        for (var attempt = 1; ; attempt++)
        {
            var result = await home.RunAsync(["serve", $"--Tern:Http:Url=http://127.0.0.1:{FreePort.Next()}", .. Settings]);
            if (result.ExitCode != 1 || !result.Stderr.Contains("cannot listen", StringComparison.Ordinal) || attempt == 3) return result;
        }
    }

    private static long Restarts(TernHome home)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = home.DatabasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM restarts";
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }
}
