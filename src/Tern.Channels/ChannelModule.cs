using Microsoft.Extensions.DependencyInjection;

namespace Tern.Channels;

/// <summary>
/// The host's validating settings reader, as a channel type sees it: a bad value names its key and stops Tern
/// with exit code 2, and a key no one read is reported as a typo.
/// </summary>
public interface IChannelSettingsReader
{
    TimeSpan Duration(string key, TimeSpan fallback, TimeSpan min, TimeSpan max);

    int WholeNumber(string key, int fallback, int min, int max);

    Uri? OptionalHttpUrl(string key);
}

/// <summary>What the host decides for every channel type: the send timeout, and how many chats' send windows memory allows.</summary>
public sealed record ChannelHostOptions(TimeSpan SendTimeout, int SendWindowChats);

/// <summary>
/// A channel type as the host composes it: it reads its own settings (with all the others, before anything is
/// opened) and registers its services. The host's list of modules is the one line per channel type.
/// </summary>
public interface IChannelModule
{
    /// <summary>The channel type's name.</summary>
    string Type { get; }

    /// <summary>
    /// The type's form of <c>tern channels add</c> for <c>tern help</c>, from <c>--type</c> on (lines after the first
    /// indented to line up under it by the host).
    /// </summary>
    string CliUsage { get; }

    void ReadSettings(IChannelSettingsReader settings);

    /// <summary>Adds the type's channel contract, sender, ingress and bounded structures (after <see cref="ReadSettings"/>).</summary>
    void Register(IServiceCollection services, ChannelHostOptions host);
}
