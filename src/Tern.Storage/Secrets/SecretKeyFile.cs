namespace Tern.Storage.Secrets;

/// <summary>
/// The key file: the base64 of a 256-bit key on one line, owner-only (0600), by default <c>secret.key</c> beside the
/// database. Made on the first start when no key is configured; a file others can read is refused, like ssh does.
/// </summary>
public static class SecretKeyFile
{
    public const string FileName = "secret.key";

    /// <summary>Where the key file is when <c>Tern:Secrets:KeyFile</c> does not say: beside the database.</summary>
    public static string DefaultPath(string databasePath) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(databasePath)) ?? ".", FileName);

    /// <summary>Where an interrupted rotation leaves the new key (written before the database is re-sealed).</summary>
    public static string PendingPath(string path) => path + ".new";

    /// <summary>Where rotation keeps the key it replaced.</summary>
    public static string BackupPath(string path, string keyId) => $"{path}.old-{keyId}";

    /// <summary>Reads the key file, or makes one with a new random key when there is none; <c>Created</c> says which.</summary>
    public static (SecretSealer Key, bool Created) LoadOrCreate(string path)
    {
        if (File.Exists(path)) return (Load(path), false);
        var key = SecretSealer.NewKey();
        if (Write(path, key, overwrite: false)) return (key, true);
        // Another tern made it first (two processes starting on a new data folder): use theirs.
        return (Load(path), false);
    }

    /// <summary>Reads the key; throws <see cref="SecretKeyException"/> naming the file when it is not one or others can read it.</summary>
    public static SecretSealer Load(string path)
    {
        string text;
        try
        {
            if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
            {
                throw new SecretKeyException($"Tern:Secrets:KeyFile: {path} can be read or written by other users; make it owner-only (chmod 600) — and if others did read it, rotate the key");
            }
            text = File.ReadAllText(path);
        }
        catch (IOException ex)
        {
            throw new SecretKeyException($"Tern:Secrets:KeyFile: cannot read {path}: {ex.Message}");
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new SecretKeyException($"Tern:Secrets:KeyFile: cannot read {path}: {ex.Message}");
        }
        return SecretSealer.FromBase64(text)
            ?? throw new SecretKeyException($"Tern:Secrets:KeyFile: {path} does not hold a key (the base64 of {SecretSealer.KeyBytes} bytes)");
    }

    /// <summary>
    /// Writes the key through a temporary owner-only file, flushed to disk, then renamed into place, so the file is
    /// never partly written nor for a moment readable by others. Without <paramref name="overwrite"/>, false when the
    /// file already exists.
    /// </summary>
    public static bool Write(string path, SecretSealer key, bool overwrite)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder)) OwnerOnly.CreateFolder(folder);
        var temporary = $"{path}.{Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)}.tmp";
        using (var stream = new FileStream(temporary, OwnerOnly.StreamOptions(FileMode.Create, FileAccess.Write, FileShare.None)))
        {
            stream.Write(System.Text.Encoding.ASCII.GetBytes(key.KeyBase64() + "\n"));
            stream.Flush(flushToDisk: true);
        }
        try
        {
            if (!overwrite && File.Exists(path)) return false;
            File.Move(temporary, path, overwrite);
            return true;
        }
        catch (IOException) when (!overwrite && File.Exists(path))
        {
            return false;
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }
}

/// <summary>The secret key is missing, unreadable or not the one the database was sealed with: one line, exit code 2, before anything starts.</summary>
public sealed class SecretKeyException(string message) : Exception(message);

/// <summary>The database's check value was sealed with another key than the one given.</summary>
public sealed class SecretKeyMismatchException(string databaseKeyId, string keyId)
    : Exception($"the database was sealed with key {databaseKeyId}, not with the key given ({keyId})")
{
    public string DatabaseKeyId { get; } = databaseKeyId;

    public string KeyId { get; } = keyId;
}
