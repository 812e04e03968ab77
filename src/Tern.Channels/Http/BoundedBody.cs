using System.Buffers;
using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Tern.Channels.Http;

/// <summary>
/// A request body read whole into a pooled buffer, refusing anything over a limit before it is all in
/// memory. Disposing returns the buffer to the pool.
/// </summary>
public sealed class BoundedBody : IDisposable
{
    private byte[]? _buffer;

    private BoundedBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; }

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Length);

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    /// <summary>The body, or null when it is larger than <paramref name="maxBytes"/> (answer with <see cref="TooLarge"/>).</summary>
    public static async Task<BoundedBody?> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes) return null;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes + 1, 64 * 1024));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > maxBytes) return Discard(buffer);
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                int read;
                try
                {
                    read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                }
                catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
                {
                    // Kestrel reads a chunked body ahead of us and counts that against its own limit.
                    return Discard(buffer);
                }
                if (read == 0) return new BoundedBody(buffer, length);
                length += read;
                if (length > maxBytes) return Discard(buffer);
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private static BoundedBody? Discard(byte[] buffer)
    {
        ArrayPool<byte>.Shared.Return(buffer);
        return null;
    }

    /// <summary>413 problem+json; the rest of the body stays unread, so the connection is closed rather than reused mid-body.</summary>
    public static IResult TooLarge(HttpContext context, int maxBytes)
    {
        context.Response.Headers.Connection = "close";
        return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Body too large",
            detail: $"The body may be at most {maxBytes.ToString(CultureInfo.InvariantCulture)} bytes.");
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer) ArrayPool<byte>.Shared.Return(buffer);
    }
}
