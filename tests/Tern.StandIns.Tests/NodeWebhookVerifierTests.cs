using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using StandardWebhooks;
using Tern.StandIns.Http;

namespace Tern.StandIns.Tests;

/// <summary>
/// Webhooks signed with the .NET StandardWebhooks package, judged by the npm one through <see cref="NodeWebhookVerifier"/>.
/// Starting node is slow, so every case goes in one batch, verified once for the whole class.
/// </summary>
public sealed class NodeWebhookVerifierTests
{
    private static readonly string Secret = NewSecret();
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private static readonly WebhookToVerify Correct = Signed("msg_correct", Now, """{"n":1}""");
    private static readonly WebhookToVerify WrongSecret = Signed("msg_wrong_secret", Now, """{"n":1}""", signingSecret: NewSecret());
    private static readonly WebhookToVerify TamperedBody = Signed("msg_tampered", Now, """{"n":1}""") with { Body = Encoding.UTF8.GetBytes("""{"n":2}""") };
    private static readonly WebhookToVerify TenMinutesOld = Signed("msg_old", Now.AddMinutes(-10), """{"n":1}""");
    private static readonly WebhookToVerify Rotated = Signed("msg_rotated", Now, """{"n":1}""", otherSignatureFirst: true);
    private static readonly WebhookToVerify NonAscii = Signed("msg_utf8", Now, "привет ✓");
    private static readonly WebhookToVerify CapitalisedHeaders = Signed("msg_capitals", Now, """{"n":1}""", capitalise: true);

    private static readonly WebhookToVerify[] Batch = [Correct, WrongSecret, TamperedBody, TenMinutesOld, Rotated, NonAscii, CapitalisedHeaders];

    private static readonly Lazy<Task<IReadOnlyList<string?>>> Verdicts = new(() => NodeWebhookVerifier.VerifyAsync(Batch));

    private static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static WebhookToVerify Signed(string id, DateTimeOffset timestamp, string body, string? signingSecret = null, bool otherSignatureFirst = false, bool capitalise = false)
    {
        var signature = new StandardWebhook(signingSecret ?? Secret).Sign(id, timestamp, body);
        if (otherSignatureFirst) signature = new StandardWebhook(NewSecret()).Sign(id, timestamp, body) + " " + signature;
        var headers = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [capitalise ? "Webhook-Id" : "webhook-id"] = id,
            [capitalise ? "Webhook-Timestamp" : "webhook-timestamp"] = timestamp.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            [capitalise ? "Webhook-Signature" : "webhook-signature"] = signature,
            ["content-type"] = "application/json",
        };
        return new WebhookToVerify(Secret, headers, Encoding.UTF8.GetBytes(body));
    }

    private static async Task<string?> VerdictOn(WebhookToVerify item)
    {
        var verdicts = await Verdicts.Value;
        Assert.Equal(Batch.Length, verdicts.Count);
        return verdicts[Array.IndexOf(Batch, item)];
    }

    [Fact]
    public async Task A_correct_signature_verifies() => Assert.Null(await VerdictOn(Correct));

    [Fact]
    public async Task A_signature_made_with_another_secret_is_refused() => Assert.Equal("No matching signature found", await VerdictOn(WrongSecret));

    [Fact]
    public async Task A_body_changed_after_signing_is_refused() => Assert.Equal("No matching signature found", await VerdictOn(TamperedBody));

    [Fact]
    public async Task A_timestamp_ten_minutes_old_is_refused() => Assert.Equal("Message timestamp too old", await VerdictOn(TenMinutesOld));

    [Fact]
    public async Task A_header_with_a_wrong_signature_before_the_right_one_verifies_as_during_a_secret_rotation() => Assert.Null(await VerdictOn(Rotated));

    [Fact]
    public async Task A_body_of_non_ASCII_UTF8_verifies_byte_for_byte() => Assert.Null(await VerdictOn(NonAscii));

    [Fact]
    public async Task The_webhook_headers_are_found_whatever_their_case() => Assert.Null(await VerdictOn(CapitalisedHeaders));
}
