using System.Text;
using Tern.Channels.Http;

namespace Tern.Channels.Tests;

public sealed class SignaturesTests
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"chat":"c","text":"hello"}""");

    [Fact]
    public void Sign_matches_the_RFC_4231_HMAC_SHA256_test_vector()
    {
        var signature = Signatures.Sign("Jefe", Encoding.ASCII.GetBytes("what do ya want for nothing?"));

        Assert.Equal("sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", signature);
    }

    [Fact]
    public void A_signature_verifies_with_the_same_secret_and_body()
    {
        var signature = Signatures.Sign("s3cret", Body);

        Assert.StartsWith(Signatures.Prefix, signature, StringComparison.Ordinal);
        Assert.Equal(Signatures.Prefix.Length + 64, signature.Length);
        Assert.True(Signatures.Verify("s3cret", Body, signature));
    }

    [Fact]
    public void A_wrong_secret_fails() =>
        Assert.False(Signatures.Verify("other", Body, Signatures.Sign("s3cret", Body)));

    [Fact]
    public void A_changed_body_fails()
    {
        var signature = Signatures.Sign("s3cret", Body);
        var changed = (byte[])Body.Clone();
        changed[^2] ^= 1;

        Assert.False(Signatures.Verify("s3cret", changed, signature));
    }

    [Fact]
    public void A_signature_differing_only_in_its_last_digit_fails()
    {
        var signature = Signatures.Sign("s3cret", Body);
        var last = signature[^1] == '0' ? '1' : '0';

        Assert.False(Signatures.Verify("s3cret", Body, signature[..^1] + last));
    }

    [Fact]
    public void Uppercase_hex_is_accepted()
    {
        var signature = Signatures.Sign("s3cret", Body);

        Assert.True(Signatures.Verify("s3cret", Body, Signatures.Prefix + signature[Signatures.Prefix.Length..].ToUpperInvariant()));
    }

    [Fact]
    public void The_hex_needs_exactly_64_digits()
    {
        var signature = Signatures.Sign("s3cret", Body);

        Assert.False(Signatures.Verify("s3cret", Body, signature[..^2]));
        Assert.False(Signatures.Verify("s3cret", Body, signature + "00"));
        Assert.False(Signatures.Verify("s3cret", Body, signature[..^1]));
        Assert.False(Signatures.Verify("s3cret", Body, Signatures.Prefix));
    }

    [Fact]
    public void Non_hex_characters_fail()
    {
        var signature = Signatures.Sign("s3cret", Body);

        Assert.False(Signatures.Verify("s3cret", Body, signature[..^1] + "g"));
        Assert.False(Signatures.Verify("s3cret", Body, Signatures.Prefix + new string('z', 64)));
    }

    [Fact]
    public void A_missing_or_different_prefix_fails()
    {
        var signature = Signatures.Sign("s3cret", Body);
        var hex = signature[Signatures.Prefix.Length..];

        Assert.False(Signatures.Verify("s3cret", Body, hex));
        Assert.False(Signatures.Verify("s3cret", Body, "sha1=" + hex));
        Assert.False(Signatures.Verify("s3cret", Body, "sha256:" + hex));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void No_header_fails(string? header) => Assert.False(Signatures.Verify("s3cret", Body, header));
}
