namespace Tern.Storage.Secrets;

/// <summary>
/// What every engine seals the same way: the columns holding secrets, the place bound into each seal, and the check
/// value a database keeps to tell its key from another. Sealed values are the same text in every engine, so
/// <c>tern db copy</c> carries them as they are.
/// </summary>
internal static class SealedColumns
{
    /// <summary>Every column holding a secret: a whole channel's settings (a channel type's JSON; the storage does not know which of its fields are secret).</summary>
    public static readonly (string Table, string Column)[] All = [("channels", "secret"), ("channels", "settings"), ("channels", "previous_secret"), ("webhooks", "secret"), ("webhooks", "previous_secret")];

    public const string CheckPlace = "secret_key_check:1";

    public const string CheckValue = "tern secret key check";

    /// <summary>Where a value lives, bound into its seal: <c>channels.secret:shop</c>.</summary>
    public static string Place(string table, string column, string id) => $"{table}.{column}:{id}";

    /// <summary>The check value opens with <paramref name="key"/>, or the database was sealed with another key.</summary>
    public static void EnsureOpens((string KeyId, string Sealed) check, SecretSealer key)
    {
        try
        {
            key.Unseal(check.Sealed, CheckPlace);
        }
        catch (SealedSecretException)
        {
            throw new SecretKeyMismatchException(check.KeyId, key.KeyId);
        }
    }
}
