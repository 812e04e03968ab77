using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Tern.Channels.Http;

namespace Tern.Channels.Telegram.BotApi;

/// <summary>Why a Bot API call did not succeed: Telegram's answer, or what the network did. Never contains the token.</summary>
/// <param name="HttpStatus">The HTTP status, or 0 when no answer came (network, timeout).</param>
/// <param name="ErrorCode">Telegram's error_code (usually the HTTP status).</param>
/// <param name="Description">Telegram's description, or what went wrong on the way.</param>
/// <param name="RetryAfter">parameters.retry_after of a 429 (flood control).</param>
/// <param name="MigrateToChatId">parameters.migrate_to_chat_id: the group became a supergroup with this id.</param>
/// <param name="Refused">No connection was made: the <see cref="DestinationPolicy"/> refused the Bot API's address.</param>
public sealed record BotApiError(int HttpStatus, int ErrorCode, string Description, int? RetryAfter, long? MigrateToChatId, bool Refused = false)
{
    public bool IsNetwork => HttpStatus == 0;

    public override string ToString() =>
        IsNetwork ? Description : $"{ErrorCode.ToString(CultureInfo.InvariantCulture)} {Description}";
}

/// <summary>A Bot API call's result: the value, or the error.</summary>
public readonly record struct BotApiResult<T>(T? Value, BotApiError? Error)
{
    public bool Ok => Error is null;
}

/// <summary>
/// The Bot API over HTTP: <c>POST {base}/bot{token}/{method}</c> with a JSON body (multipart for
/// uploads). It never throws for what Telegram or the network answers; errors come back as
/// <see cref="BotApiError"/> with the token scrubbed from every text.
/// </summary>
public sealed class BotApiClient(HttpClient http)
{
    public static readonly Uri DefaultBaseUrl = new("https://api.telegram.org");

    /// <summary>Largest answer read; Bot API answers are small except getUpdates pages (100 updates).</summary>
    private const int MaxAnswerBytes = 16 << 20;

    public Task<BotApiResult<T>> CallAsync<TRequest, T>(
        BotEndpoint bot, string method, TRequest request, JsonTypeInfo<TRequest> requestInfo, JsonTypeInfo<BotApiResponse<T>> answerInfo,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(request, requestInfo));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return SendAsync(bot, method, content, answerInfo, timeout, cancellationToken);
    }

    /// <summary>A call with files (multipart/form-data); JSON-typed parameters go in as JSON strings, as the Bot API expects.</summary>
    public Task<BotApiResult<T>> CallMultipartAsync<T>(
        BotEndpoint bot, string method, MultipartFormDataContent content, JsonTypeInfo<BotApiResponse<T>> answerInfo, TimeSpan timeout, CancellationToken cancellationToken) =>
        SendAsync(bot, method, content, answerInfo, timeout, cancellationToken);

    /// <summary>Opens a file the bot can read (after getFile) as a stream; the caller disposes the response.</summary>
    public async Task<(HttpResponseMessage? Response, BotApiError? Error)> DownloadAsync(BotEndpoint bot, string filePath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            var response = await http.GetAsync(bot.FileUrl(filePath), HttpCompletionOption.ResponseHeadersRead, timeoutSource.Token).ConfigureAwait(false);
            if (response.IsSuccessStatusCode) return (response, null);
            var status = (int)response.StatusCode;
            response.Dispose();
            return (null, new BotApiError(status, status, $"file download answered HTTP {status.ToString(CultureInfo.InvariantCulture)}", null, null));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, Network(bot, $"no answer within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s (file download)"));
        }
        catch (HttpRequestException ex) when (DestinationRefusedException.In(ex) is { } refused)
        {
            return (null, Network(bot, "refused: " + refused.Message) with { Refused = true });
        }
        catch (HttpRequestException ex)
        {
            return (null, Network(bot, "network: " + Describe(ex)));
        }
    }

    private async Task<BotApiResult<T>> SendAsync<T>(
        BotEndpoint bot, string method, HttpContent content, JsonTypeInfo<BotApiResponse<T>> answerInfo, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, bot.MethodUrl(method)) { Content = content };
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeoutSource.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.Content.Headers.ContentLength > MaxAnswerBytes) return Failed<T>(bot, status, status, "answer too large");

            BotApiResponse<T>? answer;
            try
            {
                await using var stream = await response.Content.ReadAsStreamAsync(timeoutSource.Token).ConfigureAwait(false);
                answer = await JsonSerializer.DeserializeAsync(stream, answerInfo, timeoutSource.Token).ConfigureAwait(false);
            }
            catch (JsonException)
            {
                // A proxy's HTML error page, or a truncated answer: what matters is the status.
                return Failed<T>(bot, status, status, $"HTTP {status.ToString(CultureInfo.InvariantCulture)} {response.ReasonPhrase} (not a Bot API answer)");
            }
            if (answer is null) return Failed<T>(bot, status, status, "empty answer");
            if (answer.Ok && status is >= 200 and < 300) return new BotApiResult<T>(answer.Result, null);
            return Failed<T>(bot, status, answer.ErrorCode ?? status, answer.Description ?? $"HTTP {status.ToString(CultureInfo.InvariantCulture)}",
                answer.Parameters?.RetryAfter, answer.Parameters?.MigrateToChatId);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new BotApiResult<T>(default, Network(bot, $"no answer within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s"));
        }
        catch (HttpRequestException ex) when (DestinationRefusedException.In(ex) is { } refused)
        {
            return new BotApiResult<T>(default, Network(bot, "refused: " + refused.Message) with { Refused = true });
        }
        catch (HttpRequestException ex)
        {
            return new BotApiResult<T>(default, Network(bot, "network: " + Describe(ex)));
        }
    }

    private static string Describe(HttpRequestException ex) =>
        ex.HttpRequestError == HttpRequestError.Unknown ? ex.Message : ex.HttpRequestError.ToString();

    private static BotApiError Network(BotEndpoint bot, string description) => new(0, 0, bot.Scrub(description), null, null);

    private static BotApiResult<T> Failed<T>(BotEndpoint bot, int status, int errorCode, string description, int? retryAfter = null, long? migrateTo = null) =>
        new(default, new BotApiError(status, errorCode, bot.Scrub(description), retryAfter, migrateTo));
}

/// <summary>Where one bot's calls go. The token is only ever put into URLs here, and <see cref="Scrub"/> takes it out of any text.</summary>
public sealed class BotEndpoint
{
    private readonly string _token;
    private readonly string _methodPrefix;
    private readonly string _filePrefix;

    public BotEndpoint(Uri baseUrl, string token)
    {
        _token = token;
        BaseUrl = baseUrl;
        var root = baseUrl.ToString().TrimEnd('/');
        _methodPrefix = $"{root}/bot{token}/";
        _filePrefix = $"{root}/file/bot{token}/";
        BotId = token.Split(':')[0];
    }

    public Uri BaseUrl { get; }

    /// <summary>The bot's numeric id: the part of the token before ':' (not a secret).</summary>
    public string BotId { get; }

    internal Uri MethodUrl(string method) => new(_methodPrefix + method);

    internal Uri FileUrl(string filePath) => new(_filePrefix + filePath.TrimStart('/'));

    public string Scrub(string text) => text.Replace(_token, "***", StringComparison.Ordinal);

    public bool SameBotAs(BotEndpoint other) => string.Equals(_token, other._token, StringComparison.Ordinal) && BaseUrl == other.BaseUrl;

    public override string ToString() => $"bot {BotId} at {BaseUrl}";
}
