namespace Tern.Server.Tests.Infrastructure;

/// <summary>
/// The heavy end-to-end tests (thousands of messages through a real <c>tern</c> process). They run
/// one at a time and after the light tests, so they do not fight each other for the machine's cores.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeavyTests
{
    public const string Name = "tern pipeline (heavy, serial)";
}
