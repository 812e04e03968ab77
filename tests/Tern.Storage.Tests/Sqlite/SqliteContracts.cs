using Tern.Storage.Tests.Contracts;

namespace Tern.Storage.Tests.Sqlite;

public sealed class SqliteInboxContract : InboxContract<SqliteStoreFactory>;

public sealed class SqliteOutboxContract : OutboxContract<SqliteStoreFactory>;

public sealed class SqliteCatalogContract : CatalogContract<SqliteStoreFactory>;

public sealed class SqliteSchemaContract : SchemaContract<SqliteStoreFactory>;

public sealed class SqliteChannelStateContract : ChannelStateContract<SqliteStoreFactory>;

public sealed class SqliteRuntimeContract : RuntimeContract<SqliteStoreFactory>;

public sealed class SqliteTenantContract : TenantContract<SqliteStoreFactory>;

public sealed class SqliteSecretsContract : SecretsContract<SqliteStoreFactory>;

public sealed class SqliteMessageQueryContract : MessageQueryContract<SqliteStoreFactory>;

public sealed class SqliteReceiptContract : ReceiptContract<SqliteStoreFactory>;
