using Tern.Storage;
using Tern.Storage.Sqlite;

namespace Tern.Server.Hosting;

/// <summary>The storage engines Tern can run on, chosen by <c>Tern:Storage:Engine</c>: one line per engine.</summary>
internal static class StorageEngines
{
    public const string Default = SqliteStorageEngine.EngineName;

    private static readonly Dictionary<string, Func<StorageOptions, IStorageEngine>> Known = new(StringComparer.Ordinal)
    {
        [SqliteStorageEngine.EngineName] = SqliteStorageEngine.Create,
    };

    public static IReadOnlyCollection<string> Names => Known.Keys;

    /// <summary>The engine <see cref="StorageOptions.Engine"/> names (validated when the options were read); opens nothing yet.</summary>
    public static IStorageEngine Create(StorageOptions options) => Known[options.Engine](options);
}
