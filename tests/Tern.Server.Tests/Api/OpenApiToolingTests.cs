using System.Net;
using System.Text.Json;
using Tern.Server.Tests.Infrastructure;
using Tern.StandIns.Processes;

namespace Tern.Server.Tests.Api;

/// <summary>
/// The live OpenAPI document through the real tools pinned in <c>tools/openapi</c> (package-lock.json; <c>./test.sh</c> runs
/// <c>npm ci</c>): Redocly's recommended rules find no error, and a client generated from it with openapi-typescript compiles
/// (<c>tsc</c>, strict) and drives a real Tern: channels, a route, a send, the list, one message with its history.
/// </summary>
[Collection(ApiGroup.Name)]
public sealed class OpenApiToolingTests(ApiServer api)
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(3);

    private static readonly string Tools = Path.Combine(FindRepositoryRoot(), "tools", "openapi");

    [Fact]
    public async Task The_OpenAPI_document_passes_redocly_lint_with_the_recommended_rules()
    {
        var document = await WriteDocumentAsync();
        try
        {
            var (exit, stdout, output) = await RunToolAsync("redocly", ["lint", "--config", "redocly.yaml", "--format", "json", document]);
            JsonElement totals = default;
            var parsed = false;
            try
            {
                using var report = JsonDocument.Parse(stdout);
                totals = report.RootElement.GetProperty("totals").Clone();
                parsed = true;
            }
            catch (JsonException)
            {
            }
            Assert.True(parsed, $"redocly lint exited {exit} without a JSON report:\n{output}");
            Assert.True(totals.GetProperty("errors").GetInt32() == 0 && exit == 0, $"redocly lint exited {exit} with {totals}:\n{output}");
        }
        finally
        {
            File.Delete(document);
        }
    }

    [Fact]
    public async Task A_client_generated_with_openapi_typescript_compiles_and_passes_the_smoke_test()
    {
        var tenant = await api.CreateTenantAsync("smoke");
        var document = await WriteDocumentAsync();
        try
        {
            Directory.CreateDirectory(Path.Combine(Tools, "generated"));
            await RunOkAsync("openapi-typescript", [document, "--output", Path.Combine("generated", "tern-api.d.ts")]);
            await RunOkAsync("tsc", ["-p", "tsconfig.json"]);
        }
        finally
        {
            File.Delete(document);
        }

        var prefix = ApiServer.NewId("smoke");
        var said = await RunOkAsync("node", [Path.Combine("generated", "smoke.js")], new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["TERN_URL"] = api.Tern.BaseUrl.ToString().TrimEnd('/'),
            ["TERN_KEY"] = tenant.Key,
            ["DEST_URL"] = api.Destination.Url.ToString(),
            ["DEST_SECRET"] = ApiServer.DestinationSecret,
            ["SMOKE_PREFIX"] = prefix,
        });
        using var result = JsonDocument.Parse(said.Trim().Split('\n')[^1]);
        var root = result.RootElement;
        Assert.Equal($"/hooks/webhook/{prefix}-in", root.GetProperty("inbound").GetString());
        Assert.Equal(202, root.GetProperty("sent").GetProperty("status").GetInt32());
        Assert.Equal($"{prefix}-out", root.GetProperty("sent").GetProperty("channel").GetString());
        Assert.Equal(1, root.GetProperty("listed").GetInt32());
        Assert.NotEmpty(root.GetProperty("history").EnumerateArray());
        Assert.Equal(404, root.GetProperty("missing").GetInt32());

        // What the generated client did is what the server holds: the message is the tenant's, the route exists, and it is delivered.
        var id = root.GetProperty("sent").GetProperty("id").GetString()!;
        var message = await api.GetAsync($"/v1/messages/{id}", tenant.Key);
        message.AssertStatus(HttpStatusCode.OK);
        Assert.Equal($"{prefix}-out", message.Json.GetProperty("channel").GetString());
        (await api.GetAsync($"/v1/routes/{prefix}-route", tenant.Key)).AssertStatus(HttpStatusCode.OK);
        await Eventually.UntilAsync(() => api.Destination.Accepted.Any(r => r.Body.Contains("hello from the generated client", StringComparison.Ordinal)
                && r.Body.Contains("customer-42", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), () => $"the destination got: {api.Destination.Describe()}");
    }

    /// <summary>The live document in a temp file.</summary>
    private async Task<string> WriteDocumentAsync()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tern-openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, await api.Tern.Http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));
        return path;
    }

    private static async Task<string> RunOkAsync(string tool, string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var (exit, stdout, output) = await RunToolAsync(tool, args, environment);
        Assert.True(exit == 0, $"{tool} {string.Join(' ', args)} exited {exit}:\n{output}");
        return stdout;
    }

    /// <summary>A pinned tool from tools/openapi/node_modules/.bin (or node itself), run in tools/openapi.</summary>
    private static async Task<(int Exit, string Stdout, string Output)> RunToolAsync(string tool, string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var fileName = tool;
        if (tool != "node")
        {
            fileName = Path.Combine(Tools, "node_modules", ".bin", tool);
            Assert.True(File.Exists(fileName), $"{fileName} is missing: run `npm ci --prefix tools/openapi` (./test.sh does)");
        }
        var info = ChildProcess.StartInfo(fileName, args, Tools, environment);
        info.Environment["NO_COLOR"] = "1";
        info.Environment["REDOCLY_TELEMETRY"] = "off";
        info.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        await using var process = ChildProcess.Start(info);
        var exit = await process.WaitForExitAsync(ToolTimeout);
        return (exit, process.StdoutTail(20_000), process.Tail(400));
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
