using System.Globalization;
using Tern.Server.Tests.Infrastructure;

namespace Tern.Server.Tests;

/// <summary>A bad setting or option stops <c>tern</c> with exit code 2 and one stderr line naming it, before anything is touched.</summary>
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
        await home.RunOkAsync("channels", "add", "--id", "src", "--secret", "0123456789abcdef");
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
