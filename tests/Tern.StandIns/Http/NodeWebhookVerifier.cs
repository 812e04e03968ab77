using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tern.StandIns.Processes;

namespace Tern.StandIns.Http;

/// <summary>A webhook as a receiver got it: the secret it shares with the sender, the request's headers and the exact body bytes.</summary>
public sealed record WebhookToVerify(string Secret, IReadOnlyDictionary<string, string> Headers, byte[] Body);

/// <summary>
/// Standard Webhooks signatures checked by the <c>standardwebhooks</c> npm package (tools/standardwebhooks, pinned by its
/// package-lock.json; <c>./test.sh</c> runs <c>npm ci</c>), not by Tern's code nor by the .NET package. One node process per
/// batch: <c>node tools/standardwebhooks/verify.mjs</c> reads the items as JSON on stdin and answers one verdict per item.
/// </summary>
public static class NodeWebhookVerifier
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromMinutes(2);

    /// <summary>The only headers the package reads; they are picked from <see cref="WebhookToVerify.Headers"/> whatever their case.</summary>
    private static readonly string[] SignatureHeaders = ["webhook-id", "webhook-timestamp", "webhook-signature"];

    /// <summary>
    /// One entry per item, in order: null when the package verified it, else the package's error message
    /// (<c>No matching signature found</c>, <c>Message timestamp too old</c>, …). Throws <see cref="InvalidOperationException"/>
    /// when the package is not installed or node fails.
    /// </summary>
    public static async Task<IReadOnlyList<string?>> VerifyAsync(IReadOnlyList<WebhookToVerify> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        var tools = Path.Combine(FindRepositoryRoot(), "tools", "standardwebhooks");
        var package = Path.Combine(tools, "node_modules", "standardwebhooks", "package.json");
        if (!File.Exists(package)) throw new InvalidOperationException($"{package} is missing: run `npm ci --prefix tools/standardwebhooks` (./test.sh does)");

        var info = ChildProcess.StartInfo("node", ["verify.mjs"], tools);
        info.RedirectStandardInput = true;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.Environment["NO_COLOR"] = "1";
        using var node = new Process { StartInfo = info };
        try
        {
            node.Start();
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"could not start node in {tools}: {e.Message}", e);
        }

        try
        {
            var stdout = node.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = node.StandardError.ReadToEndAsync(cancellationToken);
            try
            {
                await node.StandardInput.BaseStream.WriteAsync(Input(items), cancellationToken);
                node.StandardInput.Close();
            }
            catch (IOException)
            {
                // node went before it read all of stdin (a broken pipe): its exit code and stderr say why.
            }

            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(NodeTimeout);
            try
            {
                await node.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new InvalidOperationException($"node {tools}/verify.mjs did not exit within {NodeTimeout.TotalSeconds} s");
            }
            var output = await stdout;
            var errors = await stderr;
            if (node.ExitCode != 0) throw new InvalidOperationException($"node {tools}/verify.mjs exited {node.ExitCode}:\n{Tail(errors)}");
            return Verdicts(output, items.Count, errors);
        }
        finally
        {
            if (!node.HasExited) node.Kill(entireProcessTree: true);
        }
    }

    /// <summary>The items as verify.mjs reads them: <c>[{ "secret", "headers": { the three webhook-* }, "body_base64" }]</c>.</summary>
    private static byte[] Input(IReadOnlyList<WebhookToVerify> items)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var item in items)
            {
                json.WriteStartObject();
                json.WriteString("secret", item.Secret);
                json.WriteStartObject("headers");
                foreach (var name in SignatureHeaders)
                {
                    foreach (var (key, value) in item.Headers)
                    {
                        if (!key.Equals(name, StringComparison.OrdinalIgnoreCase)) continue;
                        json.WriteString(name, value);
                        break;
                    }
                }
                json.WriteEndObject();
                json.WriteBase64String("body_base64", item.Body);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return buffer.ToArray();
    }

    private static string?[] Verdicts(string output, int count, string errors)
    {
        try
        {
            using var document = JsonDocument.Parse(output);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() != count) throw new JsonException($"expected an array of {count}");
            var verdicts = new string?[count];
            var index = 0;
            foreach (var verdict in root.EnumerateArray())
            {
                verdicts[index++] = verdict.ValueKind switch
                {
                    JsonValueKind.Null => null,
                    JsonValueKind.String => verdict.GetString(),
                    _ => throw new JsonException($"verdict {index - 1} is {verdict.ValueKind}, not null or a string"),
                };
            }
            return verdicts;
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"verify.mjs answered what is not {count} verdicts ({e.Message}):\n{Tail(output)}\n{Tail(errors)}"), e);
        }
    }

    private static string Tail(string text)
    {
        var lines = text.TrimEnd().Split('\n');
        return string.Join('\n', lines.Skip(Math.Max(0, lines.Length - 20)));
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
