namespace Tern.Core.Pipeline;

/// <summary>
/// The database cannot be reached now (a server restarting, a lost connection): the write may not have happened and
/// is safe to try again (the inbox is idempotent by platform id). HTTP answers it with 503 and <c>Retry-After</c>, so a
/// sender retries instead of losing the message.
/// </summary>
public sealed class StorageUnavailableException(string message, Exception inner) : Exception(message, inner);
