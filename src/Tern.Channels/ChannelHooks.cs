using Microsoft.AspNetCore.Http;

namespace Tern.Channels;

/// <summary>
/// A channel type's inbound HTTP surface (platform pushes) at <c>/hooks/{type}/{channel}</c>. A channel type's
/// registration adds one; the host maps them all, so no platform's routes are written in the host.
/// </summary>
/// <param name="Type">The channel type, also the path segment after <c>/hooks/</c>.</param>
/// <param name="Methods">The HTTP methods the platform uses (a push; some platforms also verify with a GET).</param>
/// <param name="HandleAsync">Answers one request for the channel named in the path.</param>
public sealed record ChannelHooks(string Type, IReadOnlyList<string> Methods, Func<string, HttpContext, Task<IResult>> HandleAsync)
{
    public string Pattern => $"/hooks/{Type}/{{channelId}}";
}
