using Microsoft.Data.Sqlite;
using Tern.Core.Pipeline;

namespace Tern.Storage.Sqlite;

/// <summary>Which SQLite failures mean "the disk cannot take this write now" rather than "this statement is wrong".</summary>
internal static class SqliteFailures
{
    private const int Busy = 5, Locked = 6, IoError = 10, Full = 13, CannotOpen = 14;

    /// <summary>
    /// A <see cref="StorageUnavailableException"/> for a full disk, an I/O error, a file that cannot be opened or a lock
    /// held past the busy timeout: nothing was written and the same write may succeed later, so HTTP answers 503 with
    /// Retry-After instead of 500. Null for any other failure.
    /// </summary>
    public static StorageUnavailableException? Unavailable(Exception failure) => failure switch
    {
        SqliteException { SqliteErrorCode: Full } => new StorageUnavailableException("the disk holding the SQLite database is full", failure),
        SqliteException { SqliteErrorCode: IoError or CannotOpen } => new StorageUnavailableException("the SQLite database cannot be read or written: " + failure.Message, failure),
        SqliteException { SqliteErrorCode: Busy or Locked } => new StorageUnavailableException("the SQLite database is locked by another process", failure),
        _ => null,
    };
}
