using System.Text.RegularExpressions;

namespace Tern.Channels.WhatsApp;

/// <summary>
/// What a WhatsApp chat is in a route: the user's phone number as Meta writes it in webhooks (its <c>wa_id</c>, digits with
/// the country code and no '+'), or, for a user whose number Meta withholds, their business-scoped user id (BSUID: a
/// country code, '.', letters and digits, e.g. <c>US.13491208655302741918</c>).
/// </summary>
public static partial class WhatsAppChats
{
    private const string Rule = "must be a WhatsApp user: the phone number with its country code, digits only (e.g. 16505551234), or a business-scoped user id (e.g. US.13491208655302741918)";

    public static string? Check(string chat) => IsPhoneNumber(chat) || IsUserId(chat) ? null : Rule;

    /// <summary>A wa_id: 6–15 digits (E.164 without the '+').</summary>
    public static bool IsPhoneNumber(string chat) => chat.Length is >= 6 and <= 15 && !chat.AsSpan().ContainsAnyExceptInRange('0', '9');

    /// <summary>A business-scoped user id (sent with <c>recipient</c>, not <c>to</c>).</summary>
    public static bool IsUserId(string chat) => UserIdPattern().IsMatch(chat);

    [GeneratedRegex(@"^[A-Z]{2}\.[A-Za-z0-9.]{1,160}$")]
    private static partial Regex UserIdPattern();
}
