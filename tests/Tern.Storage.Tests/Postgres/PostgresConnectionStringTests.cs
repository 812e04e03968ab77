using Tern.Storage.Postgres;

namespace Tern.Storage.Tests.Postgres;

public sealed class PostgresConnectionStringTests
{
    [Fact]
    public void A_postgres_url_gives_user_password_host_port_database_and_libpq_parameters()
    {
        var builder = PostgresConnectionString.Parse("postgres://tern:p%40ss%3Aw0rd@db.example.com:6543/tern_prod?sslmode=verify-full&application_name=tern-1");

        Assert.Equal(("tern", "p@ss:w0rd", "db.example.com", 6543, "tern_prod"), (builder.Username, builder.Password, builder.Host, builder.Port, builder.Database));
        Assert.Equal(Npgsql.SslMode.VerifyFull, builder.SslMode);
        Assert.Equal("tern-1", builder.ApplicationName);
        Assert.Equal("postgres://db.example.com:6543/tern_prod", PostgresConnectionString.Describe(builder));
    }

    [Fact]
    public void A_postgresql_url_with_several_hosts_and_an_ipv6_address_keeps_each_port()
    {
        var builder = PostgresConnectionString.Parse("postgresql://u@[::1]:5433,10.0.0.2/db");

        Assert.Equal("[::1]:5433,10.0.0.2", builder.Host);
        Assert.Equal("db", builder.Database);
        Assert.Equal("postgres://[::1]:5433,10.0.0.2/db", PostgresConnectionString.Describe(builder));
    }

    [Fact]
    public void Npgsql_keywords_are_taken_as_they_are()
    {
        var builder = PostgresConnectionString.Parse("Host=127.0.0.1;Port=5432;Username=tern;Password=secret;Database=tern");

        Assert.Equal(("127.0.0.1", 5432, "tern", "secret"), (builder.Host, builder.Port, builder.Database, builder.Password));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("postgres://u:hunter2@/db", "no host")]
    [InlineData("postgres://u:hunter2@host", "no database")]
    [InlineData("postgres://u:hunter2@host:99999/db", "port '99999'")]
    [InlineData("postgres://u:hunter2@host/db?no_such_option=1", "'no_such_option'")]
    [InlineData("postgres://u:hunter2@host/db?sslmode=sometimes", "'sslmode'")]
    [InlineData("Host=h;Password=hunter2;Bogus=1", "bogus")]
    public void A_bad_value_says_what_is_wrong_and_never_the_password(string value, string expected)
    {
        var error = Assert.Throws<FormatException>(() => PostgresConnectionString.Parse(value));

        Assert.Contains(expected, error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }
}
