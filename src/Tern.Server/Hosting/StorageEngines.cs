using Tern.Storage;
using Tern.Storage.Postgres;
using Tern.Storage.Sqlite;

namespace Tern.Server.Hosting;

/// <summary>The storage engines Tern can run on, chosen by <c>Tern:Storage:Engine</c>: one line per engine.</summary>
internal static class StorageEngines
{
    public const string Default = SqliteStorageEngine.EngineName;

    private static readonly Dictionary<string, Func<StorageOptions, IStorageEngine>> Known = new(StringComparer.Ordinal)
    {
        [SqliteStorageEngine.EngineName] = SqliteStorageEngine.Create,
        [PostgresStorageEngine.EngineName] = PostgresStorageEngine.Create,
    };

    /// <summary>The engine a connection string (<c>Tern:Storage:ConnectionString</c>) alone chooses.</summary>
    public const string ServerDefault = PostgresStorageEngine.EngineName;

    public static IReadOnlyCollection<string> Names => Known.Keys;

    public static bool NeedsConnectionString(string engine) => engine == PostgresStorageEngine.EngineName;

    /// <summary>What is wrong with a connection string (never its value: it may hold a password), or null.</summary>
    public static string? ConnectionStringProblem(string value)
    {
        try
        {
            PostgresConnectionString.Parse(value);
            return null;
        }
        catch (FormatException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>The engine <see cref="StorageOptions.Engine"/> names (validated when the options were read); opens nothing yet.</summary>
    public static IStorageEngine Create(StorageOptions options) => Known[options.Engine](options);
}
