using System.Net.Sockets;
using Npgsql;
using Tern.Core.Pipeline;

namespace Tern.Storage.Postgres;

/// <summary>Which PostgreSQL failures mean "the server cannot be reached now" rather than "this statement is wrong".</summary>
internal static class PostgresFailures
{
    /// <summary>A <see cref="StorageUnavailableException"/> for a failure to reach or keep the server; null for any other failure.</summary>
    public static StorageUnavailableException? Unavailable(Exception failure) => failure switch
    {
        StorageUnavailableException => null,
        // Connection refused or reset, a timeout, the server shutting down (57P01 admin_shutdown, 57P03 cannot_connect_now, 08xxx).
        PostgresException { SqlState: var state } when state.StartsWith("08", StringComparison.Ordinal) || state is "57P01" or "57P02" or "57P03" =>
            new StorageUnavailableException($"PostgreSQL is not available: {state}", failure),
        PostgresException => null,
        NpgsqlException { IsTransient: true } or NpgsqlException { InnerException: SocketException or IOException or TimeoutException } =>
            new StorageUnavailableException("PostgreSQL cannot be reached: " + failure.Message, failure),
        _ => null,
    };
}
