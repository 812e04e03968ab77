using System.Buffers.Binary;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;

namespace Tern.Channels.Http;

/// <summary>
/// Where Tern may connect on a tenant's behalf (webhook channels, event subscriptions, a Telegram channel's
/// Bot API base URL): public addresses only, unless the operator allows private networks
/// (<c>Tern:Security:AllowedPrivateNetworks</c>). A tenant must not make Tern call the host's own services,
/// the cloud metadata address or the private network behind it.
/// <para>
/// Two checks: <see cref="CheckAsync"/> when a destination is written (a 400 naming the field), and
/// <see cref="ConnectAsync"/> on every connection, on the very address connected to — a DNS answer that
/// changes after the first check (rebinding) or a destination stored under an earlier allow-list does not
/// get through. The outbound clients follow no redirects (<see cref="OutboundHttp"/>), so a public address
/// cannot bounce a request to a private one.
/// </para>
/// </summary>
public sealed class DestinationPolicy(IReadOnlyList<IPNetwork> allowedPrivateNetworks)
{
    public const string SettingKey = "Tern:Security:AllowedPrivateNetworks";

    /// <summary>Public addresses only: the default.</summary>
    public static DestinationPolicy PublicOnly { get; } = new([]);

    public IReadOnlyList<IPNetwork> AllowedPrivateNetworks => allowedPrivateNetworks;

    /// <summary>Null when Tern may connect to <paramref name="address"/>; otherwise the kind of address it is.</summary>
    public string? Refuses(IPAddress address)
    {
        var kind = Classify(address);
        if (kind is null) return null;
        var plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        foreach (var network in allowedPrivateNetworks)
        {
            if (network.Contains(plain)) return null;
        }
        return kind;
    }

    /// <summary>
    /// The problem with <paramref name="url"/> as a destination, or null. A host name is resolved now and refused
    /// when any of its addresses is; a name that does not resolve yet is let through (the connection is checked).
    /// </summary>
    public async ValueTask<string?> CheckAsync(Uri url, CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        try
        {
            addresses = await AddressesOfAsync(url.IdnHost, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            return null;
        }
        foreach (var address in addresses)
        {
            if (Refuses(address) is { } kind) return Problem(url.IdnHost, address, kind);
        }
        return null;
    }

    /// <summary>
    /// <see cref="SocketsHttpHandler.ConnectCallback"/>: resolves the host, drops every address the policy refuses,
    /// connects to the rest. Nothing allowed is a <see cref="DestinationRefusedException"/> (inside the
    /// <see cref="HttpRequestException"/> the handler throws).
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = await AddressesOfAsync(host, cancellationToken).ConfigureAwait(false);
        var allowed = new List<IPAddress>(addresses.Length);
        string? firstRefusal = null;
        foreach (var address in addresses)
        {
            if (Refuses(address) is { } kind) firstRefusal ??= Problem(host, address, kind);
            else allowed.Add(address);
        }
        if (allowed.Count == 0) throw new DestinationRefusedException(firstRefusal ?? $"{host} has no address");

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed.ToArray(), context.DnsEndPoint.Port, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>An address literal as itself (no lookup), a name by DNS.</summary>
    private static async ValueTask<IPAddress[]> AddressesOfAsync(string host, CancellationToken cancellationToken) =>
        IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);

    private static string Problem(string host, IPAddress address, string kind)
    {
        var shown = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        var name = string.Equals(host.Trim('[', ']'), shown.ToString(), StringComparison.OrdinalIgnoreCase) ? "" : $"{host} resolves to ";
        return $"{name}{shown}, a {kind} address: Tern does not connect to it unless {SettingKey} allows it";
    }

    /// <summary>The kind of non-public address <paramref name="address"/> is, or null for a public one.</summary>
    public static string? Classify(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork) return ClassifyV4(address);
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return "non-IP";
        if (address.IsIPv4MappedToIPv6) return ClassifyV4(address.MapToIPv4());

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        var high = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        var low = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        if (high == 0 && low == 0) return "unspecified";
        if (high == 0 && low == 1) return "loopback";
        if (high == 0 && low >> 32 == 0) return "reserved"; // ::a.b.c.d, the deprecated IPv4-compatible form
        if (bytes[0] == 0xff) return "multicast";
        if ((bytes[0] & 0xfe) == 0xfc) return "unique-local";
        if (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80) return "link-local";
        if (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0xc0) return "site-local";
        // Addresses that carry an IPv4 address a gateway would reach: judged by that address.
        if (high == 0x0064_ff9b_0000_0000 && low >> 32 == 0) return ClassifyV4(new IPAddress(bytes[12..])); // NAT64, 64:ff9b::/96
        if (bytes[0] == 0x20 && bytes[1] == 0x02) return ClassifyV4(new IPAddress(bytes[2..6])); // 6to4, 2002::/16
        if (high >> 16 == 0x0064_ff9b_0001) return "private"; // local-use NAT64, 64:ff9b:1::/48
        if (high == 0x0100_0000_0000_0000) return "reserved"; // discard, 100::/64
        if (high >> 32 == 0x2001_0db8) return "reserved"; // documentation, 2001:db8::/32
        return null;
    }

    private static string? ClassifyV4(IPAddress address)
    {
        Span<byte> b = stackalloc byte[4];
        address.TryWriteBytes(b, out _);
        return b[0] switch
        {
            0 => "unspecified",
            10 => "private",
            127 => "loopback",
            100 when (b[1] & 0xc0) == 64 => "private", // shared address space (carrier-grade NAT), 100.64.0.0/10
            169 when b[1] == 254 => "link-local",
            172 when (b[1] & 0xf0) == 16 => "private",
            192 when b[1] == 168 => "private",
            192 when b[1] == 0 && b[2] == 0 => "reserved", // IETF protocol assignments, 192.0.0.0/24
            192 when b[1] == 0 && b[2] == 2 => "reserved", // documentation
            198 when (b[1] & 0xfe) == 18 => "reserved", // benchmarking, 198.18.0.0/15
            198 when b[1] == 51 && b[2] == 100 => "reserved",
            203 when b[1] == 0 && b[2] == 113 => "reserved",
            >= 224 and < 240 => "multicast",
            >= 240 => "reserved", // 240.0.0.0/4 and the broadcast address
            _ => null,
        };
    }
}

/// <summary>A connection the <see cref="DestinationPolicy"/> refused: the message names the address and its kind.</summary>
public sealed class DestinationRefusedException(string message) : Exception(message)
{
    /// <summary>The refusal inside an exception from an HTTP call, if that is why it failed.</summary>
    public static DestinationRefusedException? In(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is DestinationRefusedException refused) return refused;
        }
        return null;
    }
}
