using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Tern.Storage.Migrations;

namespace Tern.Server.Tests;

/// <summary>
/// Proves the published artifacts work, not just the build: publishes <c>tern</c> as the README says —
/// the self-contained, trimmed single file, and the native AOT file — then runs each binary from an
/// empty directory. Trimming can remove code that only reflection reaches, single-file changes how the
/// native SQLite library is loaded, and AOT compiles everything ahead with SQLite linked in; none of
/// that shows up in the ordinary test runs.
/// </summary>
[Collection(PublishedBinaryGroup.Name)]
public sealed class SingleFileBinaryTests(SingleFileBinaryFixture published) : PublishedBinaryContract(published);

[Collection(PublishedBinaryGroup.Name)]
public sealed class NativeAotBinaryTests(NativeAotBinaryFixture published) : PublishedBinaryContract(published)
{
    [Fact]
    public async Task Binary_forwards_telegram_updates_and_serves_the_api_openapi_and_memory()
    {
        await using var telegram = await Tern.StandIns.Telegram.BotApiStandIn.StartAsync();
        var bot = telegram.AddBot("790001:Aot-Token_secret-0123456789", "aot_bot");
        telegram.AddChat(-1001, Tern.StandIns.Telegram.ChatKind.Supergroup, "Source");
        telegram.AddChat(-2001, Tern.StandIns.Telegram.ChatKind.Supergroup, "Dest");
        using var home = new PublishedTempDirectory("tern-published-telegram");
        var timeout = TimeSpan.FromSeconds(30);
        await PublishedProcess.RunAsync(Published, home.Path, ["channels", "add", "--id", "tg", "--type", "telegram", "--token", bot.Token, "--base-url", telegram.BaseUrl.ToString()], timeout);
        await PublishedProcess.RunAsync(Published, home.Path, ["routes", "add", "--id", "copy", "--from", "tg", "--to", "tg:-2001", "--regex", "^(?i)hello", "--footer", " [aot]"], timeout);
        var key = (await PublishedProcess.RunAsync(Published, home.Path, ["keys", "create", "--tenant", "default"], timeout)).Split('\n').Single(l => l.StartsWith("tern_", StringComparison.Ordinal)).Trim();

        var url = $"http://127.0.0.1:{PublishedPorts.Free().ToString(CultureInfo.InvariantCulture)}";
        await using var tern = PublishedProcess.Start(Published, home.Path, ["serve", $"--Tern:Http:Url={url}", "--Tern:Telegram:PollTimeout=2s"]);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await PublishedHttp.WaitForOkAsync(http, url + "/health/ready", StartTimeout, tern);
        telegram.UserMessage(bot, -1001, 42, "Hello from the native binary");
        telegram.UserMessage(bot, -1001, 42, "filtered out");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (telegram.SentTo(-2001).Count == 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal("Hello from the native binary [aot]", Assert.Single(telegram.SentTo(-2001)).Text);

        using var request = new HttpRequestMessage(HttpMethod.Get, url + "/v1/channels/tg");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        using var channel = await http.SendAsync(request);
        var channelJson = await channel.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, channel.StatusCode);
        Assert.Contains("\"bot_username\":\"aot_bot\"", channelJson, StringComparison.Ordinal);
        Assert.DoesNotContain("Aot-Token", channelJson, StringComparison.Ordinal);
        using var problem = await http.PostAsync(new Uri(url + "/hooks/telegram/tg"), new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal("application/problem+json", problem.Content.Headers.ContentType?.MediaType);
        using (var openApi = JsonDocument.Parse(await http.GetStringAsync(new Uri(url + "/openapi/v1.json"))))
        {
            Assert.True(openApi.RootElement.GetProperty("paths").TryGetProperty("/v1/routes", out _));
        }
        using (var memory = JsonDocument.Parse(await http.GetStringAsync(new Uri(url + "/memory"))))
        {
            Assert.Contains(memory.RootElement.GetProperty("structures").EnumerateArray(), s => s.GetProperty("name").GetString() == "albums");
            Assert.InRange(memory.RootElement.GetProperty("gc_committed_bytes").GetInt64(), 1, 1L << 30);
        }
        Assert.Contains("tern_deliveries_delivered_total 1", await http.GetStringAsync(new Uri(url + "/metrics")), StringComparison.Ordinal);
        Assert.Equal(0, await tern.TerminateAsync(StopTimeout));
    }
}

/// <summary>What every published build must do.</summary>
public abstract class PublishedBinaryContract(PublishedBinaryFixture published)
{
    protected static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    protected static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    protected PublishedBinaryFixture Published => published;

    [Fact]
    public void Publish_is_a_single_self_contained_file_without_warnings()
    {
        Assert.True(File.Exists(published.BinaryPath), $"no binary at {published.BinaryPath}");
        var warnings = published.BuildOutput.Split('\n').Where(l => l.Contains(": warning ", StringComparison.Ordinal)).ToList();
        Assert.True(warnings.Count == 0, "dotnet publish printed warnings:\n" + string.Join('\n', warnings));
        // Single file: no managed assemblies, runtime or native libraries next to the binary.
        var extra = Directory.GetFiles(published.PublishDirectory)
            .Select(Path.GetFileName)
            .Where(f => f!.EndsWith(".dll", StringComparison.Ordinal) || f.EndsWith(".so", StringComparison.Ordinal))
            .ToList();
        Assert.True(extra.Count == 0, "files beside the single-file binary: " + string.Join(", ", extra));
    }

    [Fact]
    public async Task Binary_starts_in_an_empty_directory_migrates_answers_health_and_exits_0_on_SIGTERM()
    {
        using var home = new PublishedTempDirectory("tern-published-run");
        var port = PublishedPorts.Free();
        var url = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        await using var tern = PublishedProcess.Start(published, home.Path, ["serve", $"--Tern:Http:Url={url}"]);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var health = await PublishedHttp.WaitForOkAsync(http, url + "/health", StartTimeout, tern);
        Assert.Contains("alive", health, StringComparison.Ordinal);
        var ready = await PublishedHttp.WaitForOkAsync(http, url + "/health/ready", StartTimeout, tern);
        using (var report = JsonDocument.Parse(ready))
        {
            Assert.Equal("ready", report.RootElement.GetProperty("status").GetString());
            Assert.Equal("ok", report.RootElement.GetProperty("database").GetString());
        }

        var exitCode = await tern.TerminateAsync(StopTimeout);
        Assert.True(exitCode == 0, $"tern exited with {exitCode} after SIGTERM; output:\n{tern.Output}");

        var database = Path.Combine(home.Path, "data", "tern.db");
        Assert.True(File.Exists(database), $"no database at {database}; output:\n{tern.Output}");
        var expected = Migration.For("Sqlite");
        var (applied, version) = PublishedDatabase.Migrations(database);
        Assert.True(applied > 0, "schema_migrations is empty");
        Assert.Equal(expected.Count, applied);
        Assert.Equal(expected[^1].Version, version);
    }

    [Fact]
    public async Task Binary_routes_a_webhook_message_to_a_receiver()
    {
        using var home = new PublishedTempDirectory("tern-published-route");
        using var receiver = new PublishedReceiver();
        var port = PublishedPorts.Free();
        var url = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";

        // The catalog verbs of the same binary (they migrate the empty directory's database first).
        await PublishedProcess.RunAsync(published, home.Path, ["channels", "add", "--id", "inbound"], StopTimeout);
        await PublishedProcess.RunAsync(published, home.Path, ["channels", "add", "--id", "outbound", "--url", receiver.Url], StopTimeout);
        await PublishedProcess.RunAsync(published, home.Path, ["routes", "add", "--id", "forward", "--from", "inbound", "--to", "outbound"], StopTimeout);

        await using var tern = PublishedProcess.Start(published, home.Path, ["serve", $"--Tern:Http:Url={url}"]);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await PublishedHttp.WaitForOkAsync(http, url + "/health/ready", StartTimeout, tern);

        using var body = new StringContent("""{"id":"published-1","chat":"c1","text":"hello from the published binary"}""", Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri(url + "/hooks/webhook/inbound"), body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        var delivery = await receiver.NextAsync(TimeSpan.FromSeconds(20));
        Assert.False(string.IsNullOrEmpty(delivery.DeliveryId), "no webhook-id header");
        using (var payload = JsonDocument.Parse(delivery.Body))
        {
            Assert.Equal("hello from the published binary", payload.RootElement.GetProperty("text").GetString());
            Assert.Equal("c1", payload.RootElement.GetProperty("chat").GetString());
        }

        var exitCode = await tern.TerminateAsync(StopTimeout);
        Assert.True(exitCode == 0, $"tern exited with {exitCode} after SIGTERM; output:\n{tern.Output}");
    }
}

/// <summary>Publishing is slow and CPU-heavy: these tests run alone, after the parallel ones, one build at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PublishedBinaryGroup : ICollectionFixture<SingleFileBinaryFixture>, ICollectionFixture<NativeAotBinaryFixture>
{
    public const string Name = "published binaries (serial)";
}

/// <summary>The README's publish command: self-contained, trimmed, one file (the runtime inside; SQLite extracted at start).</summary>
public sealed class SingleFileBinaryFixture() : PublishedBinaryFixture("-p:PublishSingleFile=true");

/// <summary>The README's native AOT command: no JIT, SQLite linked in.</summary>
public sealed class NativeAotBinaryFixture() : PublishedBinaryFixture("-p:PublishAot=true");

/// <summary>Publishes once for the collection into a temporary directory (its own bin/obj, so it never touches the repo's).</summary>
public abstract class PublishedBinaryFixture(string flavor) : IAsyncLifetime, IDisposable
{
    // Normally about a minute; generous because a busy machine can make the trimmer several times slower.
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromMinutes(10);
    private readonly PublishedTempDirectory _root = new("tern-publish");

    public string PublishDirectory => Path.Combine(_root.Path, "out");

    public string BinaryPath => Path.Combine(PublishDirectory, "tern");

    /// <summary>Where the single file extracts its native library (kept inside the test's temp folder).</summary>
    public string ExtractDirectory => Path.Combine(_root.Path, "extract");

    public string BuildOutput { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var repo = FindRepositoryRoot();
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var info = new ProcessStartInfo(dotnet)
        {
            WorkingDirectory = repo,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[]
        {
            "publish", Path.Combine(repo, "src", "Tern.Server"),
            "-c", "Release", "-r", "linux-x64", flavor,
            "-o", PublishDirectory,
            "--artifacts-path", Path.Combine(_root.Path, "artifacts"),
            "--disable-build-servers", "-nologo",
        })
        {
            info.ArgumentList.Add(arg);
        }
        // The test host inherits the outer `dotnet test`'s MSBuild variables; a nested build must not.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(key);
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";

        var (exitCode, output) = await PublishedProcess.CollectAsync(info, PublishTimeout);
        BuildOutput = output;
        if (exitCode != 0) throw new InvalidOperationException($"dotnet publish failed with exit code {exitCode}:\n{output}");
        if (!File.Exists(BinaryPath)) throw new InvalidOperationException($"dotnet publish succeeded but wrote no {BinaryPath}:\n{output}");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose()
    {
        _root.Dispose();
        GC.SuppressFinalize(this);
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Tern.slnx"))) return directory.FullName;
        }
        throw new InvalidOperationException($"no Tern.slnx above {AppContext.BaseDirectory}");
    }
}

/// <summary>A running (or finished) child process with its output captured.</summary>
public sealed class PublishedProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private PublishedProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
    }

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    public static PublishedProcess Start(PublishedBinaryFixture published, string workingDirectory, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(published.BinaryPath)
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        // Settings only from the arguments, never from the machine running the tests.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("TERN__", StringComparison.OrdinalIgnoreCase) || k.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(key);
        }
        info.Environment["DOTNET_BUNDLE_EXTRACT_BASE_DIR"] = published.ExtractDirectory;
        // The stand-ins and receivers are on loopback, which Tern calls only when the operator allows it.
        info.Environment["TERN__Security__AllowedPrivateNetworks"] = "127.0.0.0/8,::1/128";
        var process = new PublishedProcess(new Process { StartInfo = info });
        process._process.Start();
        process._process.BeginOutputReadLine();
        process._process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Runs the binary to completion and fails unless it exits 0; returns what it printed (stdout and stderr).</summary>
    public static async Task<string> RunAsync(PublishedBinaryFixture published, string workingDirectory, IEnumerable<string> args, TimeSpan timeout)
    {
        var argList = args.ToList();
        await using var process = Start(published, workingDirectory, argList);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process._process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"`tern {string.Join(' ', argList)}` did not finish within {timeout.TotalSeconds} s; output:\n{process.Output}");
        }
        process._process.WaitForExit(); // drains the redirected output
        Assert.True(process._process.ExitCode == 0, $"`tern {string.Join(' ', argList)}` exited with {process._process.ExitCode}; output:\n{process.Output}");
        return process.Output;
    }

    /// <summary>Runs any command to completion (killing it after <paramref name="timeout"/>) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> CollectAsync(ProcessStartInfo info, TimeSpan timeout)
    {
        await using var process = new PublishedProcess(new Process { StartInfo = info });
        process._process.Start();
        process._process.BeginOutputReadLine();
        process._process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process._process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process._process.Kill(entireProcessTree: true);
            await process._process.WaitForExitAsync(CancellationToken.None);
            return (-1, $"killed after {timeout.TotalSeconds} s\n{process.Output}");
        }
        process._process.WaitForExit();
        return (process._process.ExitCode, process.Output);
    }

    /// <summary>Sends SIGTERM and waits for the exit code; kills the process and fails if it does not stop in time.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            Assert.True(PublishedSignals.Kill(_process.Id, PublishedSignals.SigTerm) == 0, $"kill(SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        }
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            Assert.Fail($"tern did not exit within {timeout.TotalSeconds} s of SIGTERM; output:\n{Output}");
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.Append(line).Append('\n');
    }
}

internal static class PublishedSignals
{
    public const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern int Kill(int pid, int signal);
}

internal static class PublishedHttp
{
    /// <summary>Polls until <paramref name="url"/> answers 200 and returns the body; fails early if the process exits.</summary>
    public static async Task<string> WaitForOkAsync(HttpClient http, string url, TimeSpan timeout, PublishedProcess process)
    {
        var stopwatch = Stopwatch.StartNew();
        var last = "no answer yet";
        while (stopwatch.Elapsed < timeout)
        {
            if (process.HasExited) Assert.Fail($"tern exited before {url} answered; output:\n{process.Output}");
            try
            {
                using var response = await http.GetAsync(new Uri(url));
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.OK) return body;
                last = $"{(int)response.StatusCode} {body}";
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }
            catch (TaskCanceledException ex)
            {
                last = ex.Message;
            }
            await Task.Delay(100);
        }
        Assert.Fail($"{url} did not answer 200 within {timeout.TotalSeconds} s (last: {last}); output:\n{process.Output}");
        return "";
    }
}

internal static class PublishedPorts
{
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

internal static class PublishedDatabase
{
    /// <summary>How many migrations the file records, and the highest version.</summary>
    public static (int Count, int Version) Migrations(string path)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
        using var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*), COALESCE(MAX(version), 0) FROM schema_migrations";
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        return (reader.GetInt32(0), reader.GetInt32(1));
    }
}

/// <summary>One delivery seen by <see cref="PublishedReceiver"/>.</summary>
internal sealed record PublishedDelivery(string? DeliveryId, string Body);

/// <summary>A loopback HTTP receiver that answers 200 and queues what it got.</summary>
internal sealed class PublishedReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly System.Threading.Channels.Channel<PublishedDelivery> _received = System.Threading.Channels.Channel.CreateUnbounded<PublishedDelivery>();
    private readonly Task _loop;

    public PublishedReceiver()
    {
        // HttpListener cannot bind port 0; retry a few free ports in case another process takes one first.
        for (var attempt = 0; ; attempt++)
        {
            var port = PublishedPorts.Free();
            Url = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/deliveries/";
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add(Url);
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
            }
        }
        _loop = Task.Run(LoopAsync);
    }

    public string Url { get; private set; } = "";

    public async Task<PublishedDelivery> NextAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            return await _received.Reader.ReadAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"nothing arrived at {Url} within {timeout.TotalSeconds} s");
            throw;
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
            {
                var body = await reader.ReadToEndAsync();
                _received.Writer.TryWrite(new PublishedDelivery(context.Request.Headers["webhook-id"], body));
            }
            context.Response.StatusCode = 200;
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }
}

/// <summary>A temporary directory removed with everything in it.</summary>
internal sealed class PublishedTempDirectory : IDisposable
{
    public PublishedTempDirectory(string prefix)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
