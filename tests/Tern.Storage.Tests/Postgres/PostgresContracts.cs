using Tern.Storage.Tests.Contracts;

namespace Tern.Storage.Tests.Postgres;

public sealed class PostgresInboxContract : InboxContract<PostgresStoreFactory>;

public sealed class PostgresOutboxContract : OutboxContract<PostgresStoreFactory>;

public sealed class PostgresCatalogContract : CatalogContract<PostgresStoreFactory>;

public sealed class PostgresSchemaContract : SchemaContract<PostgresStoreFactory>;

public sealed class PostgresChannelStateContract : ChannelStateContract<PostgresStoreFactory>;

public sealed class PostgresRuntimeContract : RuntimeContract<PostgresStoreFactory>;

public sealed class PostgresTenantContract : TenantContract<PostgresStoreFactory>;

public sealed class PostgresSecretsContract : SecretsContract<PostgresStoreFactory>;

public sealed class PostgresMessageQueryContract : MessageQueryContract<PostgresStoreFactory>;

public sealed class PostgresReceiptContract : ReceiptContract<PostgresStoreFactory>;
