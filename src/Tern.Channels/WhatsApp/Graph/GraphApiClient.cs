using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Tern.Channels.Http;

namespace Tern.Channels.WhatsApp.Graph;

/// <summary>Why a Graph API call did not succeed: Meta's error object, or what the network did. Never contains the access token.</summary>
/// <param name="HttpStatus">The HTTP status, or 0 when no answer came (network, timeout).</param>
/// <param name="Code">Meta's <c>error.code</c> (190 token, 100 parameter, 131047 window closed, …); 0 when there was none.</param>
/// <param name="Subcode">Meta's <c>error.error_subcode</c>.</param>
/// <param name="Message">Meta's <c>error.message</c> (with <c>error_data.details</c> when it says more), or what went wrong on the way.</param>
/// <param name="Refused">No connection was made: the <see cref="DestinationPolicy"/> refused the address.</param>
public sealed record GraphError(int HttpStatus, int Code, int? Subcode, string Message, bool Refused = false)
{
    public bool IsNetwork => HttpStatus == 0;

    public override string ToString() =>
        IsNetwork ? Message
        : Subcode is { } sub ? string.Create(CultureInfo.InvariantCulture, $"({Code}/{sub}) {Message}")
        : string.Create(CultureInfo.InvariantCulture, $"({Code}) {Message}");
}

/// <summary>A Graph API call's result: the value, or the error.</summary>
public readonly record struct GraphResult<T>(T? Value, GraphError? Error)
{
    public bool Ok => Error is null;
}

/// <summary>
/// The parts of Meta's Graph API a WhatsApp channel uses, over HTTP with the access token as a bearer token (never in a URL):
/// <c>GET /{version}/{phone-number-id}</c>. It never throws for what Meta or the network answers; errors come back as
/// <see cref="GraphError"/> with the token scrubbed from every text.
/// </summary>
public sealed class GraphApiClient(HttpClient http)
{
    /// <summary>Largest answer read: Graph answers here are small objects.</summary>
    private const int MaxAnswerBytes = 1 << 20;

    /// <summary>The business phone number the token is for: its display number and verified name (what adding a channel checks).</summary>
    public Task<GraphResult<PhoneNumberInfo>> GetPhoneNumberAsync(GraphEndpoint endpoint, TimeSpan timeout, CancellationToken cancellationToken) =>
        SendAsync(endpoint, HttpMethod.Get, endpoint.PhoneNumberId + "?fields=id,display_phone_number,verified_name,quality_rating", null,
            GraphJsonContext.Default.PhoneNumberInfo, timeout, cancellationToken);

    /// <summary><c>POST /{phone-number-id}/messages</c> with a request written by the caller; the answer names the message's wamid.</summary>
    public Task<GraphResult<SendMessageAnswer>> SendMessageAsync(GraphEndpoint endpoint, byte[] requestJson, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var content = new ByteArrayContent(requestJson);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return SendAsync(endpoint, HttpMethod.Post, endpoint.PhoneNumberId + "/messages", content, GraphJsonContext.Default.SendMessageAnswer, timeout, cancellationToken);
    }

    internal async Task<GraphResult<T>> SendAsync<T>(
        GraphEndpoint endpoint, HttpMethod method, string relativePath, HttpContent? content, JsonTypeInfo<T> answerInfo, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, endpoint.Url(relativePath)) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", endpoint.AccessToken);
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeoutSource.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.Content.Headers.ContentLength > MaxAnswerBytes) return Failed<T>(endpoint, status, 0, null, "answer too large");
            var bytes = await response.Content.ReadAsByteArrayAsync(timeoutSource.Token).ConfigureAwait(false);
            if (bytes.Length > MaxAnswerBytes) return Failed<T>(endpoint, status, 0, null, "answer too large");
            if (status is >= 200 and < 300)
            {
                try
                {
                    if (JsonSerializer.Deserialize(bytes, answerInfo) is { } value) return new GraphResult<T>(value, null);
                }
                catch (JsonException)
                {
                }
                return Failed<T>(endpoint, status, 0, null, $"HTTP {status.ToString(CultureInfo.InvariantCulture)} but not a Graph API answer");
            }
            GraphErrorEnvelope? envelope = null;
            try
            {
                envelope = JsonSerializer.Deserialize(bytes, GraphJsonContext.Default.GraphErrorEnvelope);
            }
            catch (JsonException)
            {
                // A proxy's HTML page or a truncated answer: the status is what there is.
            }
            if (envelope?.Error is not { } error)
            {
                return Failed<T>(endpoint, status, 0, null, $"HTTP {status.ToString(CultureInfo.InvariantCulture)} {response.ReasonPhrase} (not a Graph API error)");
            }
            var message = error.Message ?? "(no message)";
            if (error.ErrorData?.Details is { Length: > 0 } details && !message.Contains(details, StringComparison.Ordinal)) message += ": " + details;
            return Failed<T>(endpoint, status, error.Code, error.ErrorSubcode, message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new GraphResult<T>(default, Network(endpoint, $"no answer within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s"));
        }
        catch (HttpRequestException ex) when (DestinationRefusedException.In(ex) is { } refused)
        {
            return new GraphResult<T>(default, Network(endpoint, "refused: " + refused.Message) with { Refused = true });
        }
        catch (HttpRequestException ex)
        {
            return new GraphResult<T>(default, Network(endpoint, "network: " + (ex.HttpRequestError == HttpRequestError.Unknown ? ex.Message : ex.HttpRequestError.ToString())));
        }
    }

    private static GraphError Network(GraphEndpoint endpoint, string message) => new(0, 0, null, endpoint.Scrub(message));

    private static GraphResult<T> Failed<T>(GraphEndpoint endpoint, int status, int code, int? subcode, string message) =>
        new(default, new GraphError(status, code, subcode, endpoint.Scrub(message)));
}

/// <summary>Where one business phone number's calls go: <c>{base}{version}/…</c> with its access token. <see cref="ToString"/> hides the token.</summary>
public sealed class GraphEndpoint(Uri baseUrl, string version, string phoneNumberId, string accessToken)
{
    private readonly string _root = baseUrl.ToString().TrimEnd('/') + "/" + version + "/";

    public Uri BaseUrl { get; } = baseUrl;

    public string Version { get; } = version;

    public string PhoneNumberId { get; } = phoneNumberId;

    internal string AccessToken { get; } = accessToken;

    internal Uri Url(string relativePath) => new(_root + relativePath);

    public string Scrub(string text) => AccessToken.Length == 0 ? text : text.Replace(AccessToken, "***", StringComparison.Ordinal);

    public override string ToString() => $"phone number {PhoneNumberId} at {BaseUrl}{Version}";
}
