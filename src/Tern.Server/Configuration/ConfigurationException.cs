namespace Tern.Server.Configuration;

/// <summary>A bad setting: the process prints <see cref="Exception.Message"/> on one line and exits with code 2.</summary>
public sealed class ConfigurationException(string key, string problem) : Exception($"{key}: {problem}")
{
    public string Key { get; } = key;
}
