using Microsoft.AspNetCore.Http;

namespace Tern.Channels;

/// <summary>
/// A channel type's inbound HTTP surface (platform pushes) at <c>/hooks/{type}/{channel}</c>. A channel type's
/// registration adds one; the host maps them all, so no platform's routes are written in the host.
/// </summary>
/// <param name="Type">The channel type, also the path segment after <c>/hooks/</c>.</param>
/// <param name="Methods">The HTTP methods the platform uses (a push; some platforms also verify with a GET).</param>
/// <param name="HandleAsync">Answers one request for the channel named in the path.</param>
/// <param name="Shape">What the OpenAPI document says about the hook (its body, headers and answers).</param>
public sealed record ChannelHooks(string Type, IReadOnlyList<string> Methods, Func<string, HttpContext, Task<IResult>> HandleAsync, HookShape? Shape = null)
{
    public string Pattern => $"/hooks/{Type}/{{channelId}}";
}

/// <summary>
/// A hook as the OpenAPI document describes it. The handler reads the body itself (platforms send what they send), so this is
/// documentation only: <paramref name="Body"/> is a source-generated type of <see cref="ChannelsJsonContext"/> with the fields a
/// sender fills in. Every hook can also answer 400 (a bad body), 401 (a bad signature), 404 (no such channel), 413 and 503.
/// </summary>
/// <param name="OperationId">The operationId, unique in the document.</param>
/// <param name="Body">The request body's shape; null for a hook without one (a verification GET).</param>
/// <param name="Headers">The headers the hook reads (its signature).</param>
/// <param name="Answers">The successful answers: status and body type (null: no body).</param>
/// <param name="Query">The query parameters the hook reads.</param>
/// <param name="Problems">Problem answers beyond the ones every hook has (e.g. 403 for a refused verification).</param>
public sealed record HookShape(
    string OperationId, string Summary, string Description, Type? Body, IReadOnlyList<HookHeader> Headers, IReadOnlyList<HookAnswer> Answers,
    IReadOnlyList<HookHeader>? Query = null, IReadOnlyList<int>? Problems = null);

/// <summary>A request header (or, in <see cref="HookShape.Query"/>, a query parameter) a hook reads.</summary>
/// <param name="Required">Required on every request (false: e.g. only when the channel has a secret).</param>
public sealed record HookHeader(string Name, string Description, bool Required);

/// <summary>A successful answer of a hook.</summary>
/// <param name="ContentType">The answer's media type when it is not JSON.</param>
public sealed record HookAnswer(int Status, string Description, Type? Body, string? ContentType = null);
