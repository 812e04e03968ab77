namespace Tern.Core.Scheduling;

/// <summary>A named lease in the database: whoever holds it runs the periodic jobs, so there is one scheduler even when instances share a database.</summary>
public interface ILeaseStore
{
    /// <summary>Takes or renews the lease; false when another holder's lease is still valid.</summary>
    Task<bool> TryAcquireAsync(string name, string holder, TimeSpan timeToLive, CancellationToken cancellationToken);

    Task ReleaseAsync(string name, string holder, CancellationToken cancellationToken);
}

/// <summary>Deletes finished rows past their retention.</summary>
public interface IRetentionStore
{
    /// <summary>Deletes up to <paramref name="batch"/> finished inbox and outbox rows older than <paramref name="cutoff"/>; returns how many of each.</summary>
    Task<(int Inbox, int Outbox)> PurgeAsync(DateTimeOffset cutoff, int batch, CancellationToken cancellationToken);

    /// <summary>Deletes up to <paramref name="batch"/> message links (source message to copy) made before <paramref name="cutoff"/>.</summary>
    Task<int> PurgeLinksAsync(DateTimeOffset cutoff, int batch, CancellationToken cancellationToken);
}

/// <summary>Engine housekeeping (SQLite: PRAGMA optimize, incremental vacuum, WAL checkpoint).</summary>
public interface IDatabaseMaintenance
{
    Task MaintainAsync(CancellationToken cancellationToken);
}
