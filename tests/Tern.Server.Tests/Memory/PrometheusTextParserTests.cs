namespace Tern.Server.Tests.Memory;

/// <summary>The test's own Prometheus reader must be strict, or the /metrics test proves nothing.</summary>
public sealed class PrometheusTextParserTests
{
    private const string Valid = """
        # HELP up_bytes A gauge with \\ and \n in its help.
        # TYPE up_bytes gauge
        up_bytes 1.5e+06
        # a comment
        # TYPE requests_total counter
        requests_total{path="/a\"b\\c\nd",code="200",} 3 1700000000000
        requests_total{path="/x",code="500"} 0
        # TYPE latency_seconds histogram
        latency_seconds_bucket{le="0.1"} 1
        latency_seconds_bucket{le="1"} 3
        latency_seconds_bucket{le="+Inf"} 4
        latency_seconds_sum 2.25
        latency_seconds_count 4
        # TYPE temperature gauge
        temperature{room="a"} -Inf
        temperature{room="b"} NaN

        """;

    [Fact]
    public void A_well_formed_exposition_is_read_completely()
    {
        var families = PrometheusTextParser.Parse(Valid);

        Assert.Equal(new[] { "latency_seconds", "requests_total", "temperature", "up_bytes" }, families.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(1_500_000, families["up_bytes"].Value());
        Assert.Equal("A gauge with \\ and \n in its help.", families["up_bytes"].Help);
        Assert.Equal("counter", families["requests_total"].Type);
        Assert.Equal(3, families["requests_total"].Value(null, ("path", "/a\"b\\c\nd")));
        Assert.Equal(4, families["latency_seconds"].Value("latency_seconds_count"));
        Assert.Equal(5, families["latency_seconds"].Samples.Count);
        Assert.True(double.IsNaN(families["temperature"].Value(null, ("room", "b"))));
    }

    public static TheoryData<string, string> Broken => new()
    {
        { "no TYPE", "x 1\n" },
        { "HELP without TYPE", "# HELP x help\nx 1\n" },
        { "TYPE after a sample", "# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\n# TYPE x gauge\n" },
        { "unknown type", "# TYPE x meter\nx 1\n" },
        { "two HELP lines", "# HELP x a\n# HELP x b\n# TYPE x gauge\nx 1\n" },
        { "metric name starting with a digit", "# TYPE 1x gauge\n1x 1\n" },
        { "metric name with a dash", "# TYPE x-y gauge\nx-y 1\n" },
        { "label name with a dash", "# TYPE x gauge\nx{a-b=\"1\"} 1\n" },
        { "reserved label name", "# TYPE x gauge\nx{__name__=\"1\"} 1\n" },
        { "unquoted label value", "# TYPE x gauge\nx{a=1} 1\n" },
        { "unknown escape", "# TYPE x gauge\nx{a=\"\\t\"} 1\n" },
        { "unterminated label value", "# TYPE x gauge\nx{a=\"1} 1\n" },
        { "label twice", "# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n" },
        { "value not a float", "# TYPE x gauge\nx one\n" },
        { "value with a comma", "# TYPE x gauge\nx 1,5\n" },
        { "no value", "# TYPE x gauge\nx\n" },
        { "junk after the timestamp", "# TYPE x gauge\nx 1 2 3\n" },
        { "timestamp not an integer", "# TYPE x gauge\nx 1 2.5\n" },
        { "same series twice", "# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n" },
        { "family not in one group", "# TYPE x gauge\n# TYPE y gauge\nx{a=\"1\"} 1\ny 1\nx{a=\"2\"} 2\n" },
        { "negative counter", "# TYPE x_total counter\nx_total -1\n" },
        { "no final line feed", "# TYPE x gauge\nx 1" },
        { "carriage returns", "# TYPE x gauge\r\nx 1\r\n" },
        { "bucket without le", "# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n" },
        { "buckets not cumulative", "# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"2\"} 4\nh_bucket{le=\"+Inf\"} 5\nh_sum 1\nh_count 5\n" },
        { "buckets out of order", "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n" },
        { "no +Inf bucket", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n" },
        { "count differs from +Inf", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n" },
        { "no _sum", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n" },
        { "no _count", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 2\n" },
        { "le not a float", "# TYPE h histogram\nh_bucket{le=\"one\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void A_broken_exposition_is_rejected(string what, string text)
    {
        var error = Assert.Throws<FormatException>(() => PrometheusTextParser.Parse(text));
        Assert.False(string.IsNullOrEmpty(error.Message), what);
    }
}
