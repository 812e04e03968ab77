using System.Globalization;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests;

/// <summary>A bad setting or option stops <c>tern</c> with exit code 2 and one stderr line naming it, before anything is touched.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")] // a key file's mode
public sealed class CliTests
{
    public static TheoryData<string, string[]> BadServeSettings => new()
    {
        // the key the one line must start with, the arguments
        { "Tern:Sender:Concurrency", ["--Tern:Sender:Concurrency=abc"] },
        { "Tern:Sender:Concurrency", ["--Tern:Sender:Concurrency=0"] },
        { "Tern:Sender:Concurrancy", ["--Tern:Sender:Concurrancy=4"] },
        { "Tern:Http:Url", ["--Tern:Http:Url=ftp://127.0.0.1:1"] },
        { "Tern:Http:Url", ["--Tern:Http:Url=not a url"] },
        { "Tern:Sender:BackoffBase", ["--Tern:Sender:BackoffBase=soon"] },
        { "Tern:Sender:BackoffMax", ["--Tern:Sender:BackoffBase=10s", "--Tern:Sender:BackoffMax=1s"] },
        { "Tern:Ingress:MaxBodyBytes", ["--Tern:Ingress:MaxBodyBytes=huge"] },
        { "Tern:Storage:Synchronous", ["--Tern:Storage:Synchronous=sometimes"] },
        { "Tern:Storage:Engine", ["--Tern:Storage:Engine=oracle"] },
        // A channel type's own settings are read with the rest, before anything is opened.
        { "Tern:Telegram:PollTimeout", ["--Tern:Telegram:PollTimeout=forever"] },
        { "Tern:Telegram:PolTimeout", ["--Tern:Telegram:PolTimeout=5s"] },
        { "Tern:Dispatcher:Capacity", ["--Tern:Dispatcher:Capacity=-1"] },
        { "Tern:Security:AllowedPrivateNetworks", ["--Tern:Security:AllowedPrivateNetworks=10.0.0.0/8,intranet"] },
        { "Tern:Security:AllowedPrivateNetworks", ["--Tern:Security:AllowedPrivateNetworks=10.0.0.1/8"] },
        { "Tern:Security:AllowedPrivateNetworks", ["--Tern:Security:AllowedPrivateNetworks=10.0.0.0/33"] },
        { "Tern:Secrets:Key", ["--Tern:Secrets:Key=not-a-key"] },
        // Base64, but of 16 bytes: a key is 32.
        { "Tern:Secrets:Key", ["--Tern:Secrets:Key=AAAAAAAAAAAAAAAAAAAAAA=="] },
    };

    [Theory]
    [MemberData(nameof(BadServeSettings))]
    public async Task A_bad_setting_on_the_command_line_exits_2_with_one_line_naming_the_key(string key, string[] settings)
    {
        using var home = TernHome.Create();
        var result = await home.RunAsync(["serve", $"--Tern:Http:Url=http://127.0.0.1:{FreePort.Next()}", .. settings]);
        AssertUsageError(result, key);
        Assert.False(File.Exists(home.DatabasePath), "the database was created although the settings were bad");
    }

    [Fact]
    public async Task A_bad_setting_in_the_environment_names_the_key()
    {
        using var home = TernHome.Create();
        var result = await home.RunAsync(["serve"], new Dictionary<string, string> { ["TERN__Sender__Concurrency"] = "lots" });
        AssertUsageError(result, "Tern:Sender:Concurrency");
    }

    [Fact]
    public async Task A_bad_setting_in_appsettings_json_names_the_key()
    {
        using var home = TernHome.Create();
        await File.WriteAllTextAsync(Path.Combine(home.Directory, "appsettings.json"), """{ "Tern": { "Dispatcher": { "Workers": "many" } } }""");
        AssertUsageError(await home.RunAsync(["serve"]), "Tern:Dispatcher:Workers");
    }

    [Fact]
    public async Task An_appsettings_json_that_is_not_json_exits_2_naming_the_file()
    {
        using var home = TernHome.Create();
        await File.WriteAllTextAsync(Path.Combine(home.Directory, "appsettings.json"), """{ "Tern": { "Sender": """);
        AssertUsageError(await home.RunAsync(["serve"]), "appsettings.json");
    }

    public static TheoryData<string, string[]> BadChannelOptions => new()
    {
        { "--url", ["--id", "c1", "--url", "not-a-url"] },
        { "--url", ["--id", "c1", "--url", "ftp://example.com/hook"] },
        { "--url", ["--id", "c1", "--url", "/relative/path"] },
        { "--secret", ["--id", "c1", "--secret", "short"] },
        { "--secret", ["--id", "c1", "--secret", "fifteen-chars-x"] },
        { "--id", ["--id", "has space", "--url", "http://127.0.0.1:9/x"] },
        { "--id", ["--url", "http://127.0.0.1:9/x"] },
        { "--max-concurrency", ["--id", "c1", "--max-concurrency", "0"] },
        { "--max-concurrency", ["--id", "c1", "--max-concurrency", "two"] },
        { "--colour", ["--id", "c1", "--colour", "red"] },
        { "Tern:Storage:Synchronous", ["--id", "c1", "--Tern:Storage:Synchronous=sometimes"] },
        { "Tern:Storage:Engine", ["--id", "c1", "--Tern:Storage:Engine=oracle"] },
        { "Tern:Telegram:CallTimeout", ["--id", "c1", "--Tern:Telegram:CallTimeout=0s"] },
    };

    [Theory]
    [MemberData(nameof(BadChannelOptions))]
    public async Task Channels_add_with_a_bad_option_exits_2_naming_it_and_adds_nothing(string option, string[] args)
    {
        using var home = TernHome.Create();
        AssertUsageError(await home.RunAsync(["channels", "add", .. args]), option);

        var list = await home.RunOkAsync("channels", "list");
        Assert.DoesNotContain("c1", list.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Channels_and_routes_added_from_the_CLI_are_listed_and_checked()
    {
        using var home = TernHome.Create();
        await home.RunOkAsync("channels", "add", "--id", "src", "--secret", TestSecrets.For("src"));
        await home.RunOkAsync("channels", "add", "--id", "dst", "--url", "http://127.0.0.1:9/hook", "--max-concurrency", "3");
        AssertUsageError(await home.RunAsync(["channels", "add", "--id", "dst", "--url", "http://127.0.0.1:9/other"]), "--id");
        AssertUsageError(await home.RunAsync(["routes", "add", "--id", "r1", "--from", "nope", "--to", "dst"]), "--from");
        AssertUsageError(await home.RunAsync(["routes", "add", "--id", "r1", "--from", "src", "--to", "nope"]), "--to");
        AssertUsageError(await home.RunAsync(["routes", "add", "--id", "r1", "--from", "src"]), "--to");
        await home.RunOkAsync("routes", "add", "--id", "r1", "--from", "src", "--chats", "a,b", "--to", "dst:c");

        var channels = (await home.RunOkAsync("channels", "list")).Stdout;
        Assert.Contains("src\twebhook\t-\tyes\t-", channels, StringComparison.Ordinal);
        Assert.Contains("dst\twebhook\thttp://127.0.0.1:9/hook\tno\t3", channels, StringComparison.Ordinal);
        Assert.DoesNotContain("0123456789abcdef", channels, StringComparison.Ordinal);
        var routes = (await home.RunOkAsync("routes", "list")).Stdout;
        Assert.Contains("r1\tsrc\ta,b\tdst:c\tyes", routes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_CLI_refuses_an_internal_destination_too_unless_the_operator_allows_its_network()
    {
        using var home = TernHome.Create();
        var refused = await home.RunAsync(["channels", "add", "--id", "meta", "--url", "http://169.254.169.254/latest/meta-data/", TernHome.PublicOnly]);
        AssertUsageError(refused, "--url 'http://169.254.169.254/latest/meta-data/'");
        Assert.Contains("link-local", refused.Stderr, StringComparison.Ordinal);
        await home.RunOkAsync("channels", "add", "--id", "meta", "--url", "http://169.254.169.254/latest/meta-data/", TernHome.PublicOnly + "169.254.0.0/16");
    }

    [Fact]
    public async Task Secrets_rotate_key_with_Tern_Secrets_Key_set_needs_the_new_key_and_a_key_file_others_can_read_is_refused()
    {
        using var home = TernHome.Create();
        var key = (await home.RunOkAsync("secrets", "new-key")).Stdout.Trim();
        Assert.Equal(32, Convert.FromBase64String(key).Length);
        AssertUsageError(await home.RunAsync(["secrets", "rotate-key", $"--Tern:Secrets:Key={key}"]), "--new-key");
        AssertUsageError(await home.RunAsync(["secrets", "rotate-key", "--new-key", "short"]), "--new-key");

        await home.RunOkAsync("migrate");
        var keyFile = Path.Combine(home.Directory, "data", "secret.key");
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        var refused = await home.RunAsync(["channels", "list"]);
        AssertUsageError(refused, "Tern:Secrets:KeyFile");
        Assert.DoesNotContain(await File.ReadAllTextAsync(keyFile), refused.Stderr, StringComparison.Ordinal);
    }

    public static TheoryData<string[]> BadListenAddresses => new()
    {
        { ["serve", "--urls", "ftp://127.0.0.1:1"] },
        { ["serve", "--urls", "http://127.0.0.1:1/base"] },
        { ["serve", "--urls", ";"] },
        // Two ways of saying where to listen that disagree: which one was meant is not for Tern to guess.
        { ["serve", "--urls", "http://127.0.0.1:1", "--Tern:Http:Url=http://127.0.0.1:2"] },
        { ["--urls=http://127.0.0.1:1", "--Tern:Http:Url=http://127.0.0.1:2"] },
    };

    [Theory]
    [MemberData(nameof(BadListenAddresses))]
    public async Task A_bad_or_contradicting_listen_address_exits_2_naming_urls(string[] args)
    {
        using var home = TernHome.Create();
        AssertUsageError(await home.RunAsync(args), "urls");
        Assert.False(File.Exists(home.DatabasePath), "the database was created although the settings were bad");
    }

    [Fact]
    public async Task Serve_listens_where_urls_or_ASPNETCORE_URLS_say_as_ASP_NET_Core_does()
    {
        await AssertListensAsync(port => (["serve", "--urls", $"http://127.0.0.1:{port}"], null), "--urls");
        await AssertListensAsync(port => (["--urls=http://localhost:" + port.ToString(CultureInfo.InvariantCulture)], null), "--urls= without serve");
        await AssertListensAsync(port => (["serve"], new Dictionary<string, string> { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" }), "ASPNETCORE_URLS");
        // Kestrel's wildcard host: every interface (what containers use).
        await AssertListensAsync(port => (["serve", "--urls", $"http://*:{port}"], null), "a wildcard host");
        // The same address given both ways is not a contradiction.
        await AssertListensAsync(port => (["serve", "--urls", $"http://127.0.0.1:{port}/", $"--Tern:Http:Url=http://127.0.0.1:{port}"], null), "--urls and Tern:Http:Url agreeing");
        // Several addresses, separated by ';': each is listened on.
        var second = FreePort.Next();
        await AssertListensAsync(port => (["serve", "--urls", $"http://127.0.0.1:{port};http://127.0.0.1:{second}"], null), "two addresses", second);
    }

    /// <summary>Starts tern as <paramref name="invocation"/> says on a free port; asserts /health answers there (and on <paramref name="alsoPort"/>), then stops it.</summary>
    private static async Task AssertListensAsync(Func<int, (string[] Args, Dictionary<string, string>? Environment)> invocation, string what, int? alsoPort = null)
    {
        using var home = TernHome.Create();
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.Next();
            var (args, environment) = invocation(port);
            await using var tern = Tern.StandIns.Processes.ChildProcess.Start(TernCli.StartInfo(home.Directory, args, environment));
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var answered = false;
            var started = DateTime.UtcNow;
            while (!answered && !tern.HasExited && DateTime.UtcNow - started < TimeSpan.FromSeconds(60))
            {
                try
                {
                    using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/health"));
                    answered = response.IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(50);
                }
            }
            if (!answered && tern.HasExited && attempt < 3 && tern.Stderr.Contains("cannot listen", StringComparison.OrdinalIgnoreCase)) continue;
            Assert.True(answered, $"{what}: tern did not answer /health on port {port}; exited {tern.HasExited}; stderr: {tern.Stderr}; stdout: {tern.StdoutTail(10)}");
            if (alsoPort is { } other)
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{other}/health"));
                Assert.True(response.IsSuccessStatusCode, $"{what}: /health on the second address answered {(int)response.StatusCode}");
            }
            Assert.Equal(0, await tern.TerminateAsync(TimeSpan.FromSeconds(30)));
            return;
        }
    }

    private static void AssertUsageError(CliResult result, string name)
    {
        Assert.True(result.ExitCode == 2, $"expected exit code 2 naming {name}; got {result}");
        var lines = result.StderrLines;
        Assert.True(lines.Count == 1, $"expected exactly one stderr line; got {lines.Count.ToString(CultureInfo.InvariantCulture)}: {result.Stderr}");
        Assert.StartsWith("tern: ", lines[0], StringComparison.Ordinal);
        Assert.True(lines[0].Contains(name, StringComparison.OrdinalIgnoreCase), $"the line does not name {name}: {lines[0]}");
        Assert.True(result.Stdout.Trim().Length == 0, $"nothing should be printed on stdout: {result.Stdout}");
    }
}
