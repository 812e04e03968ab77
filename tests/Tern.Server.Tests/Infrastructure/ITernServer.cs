namespace Tern.Server.Tests.Infrastructure;

/// <summary>A running Tern, in the test process (<see cref="InProcessTern"/>) or as a child process (<see cref="TernProcess"/>).</summary>
public interface ITernServer
{
    Uri BaseUrl { get; }

    /// <summary>A client for the server's own endpoints.</summary>
    HttpClient Http { get; }

    Task<ReadySample> ReadyAsync();
}
