using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Tern.Server.Api;

/// <summary>
/// The Bearer API key scheme of /v1 and the two policies on top of it: <c>tenant</c> (a tenant key) and
/// <c>admin</c> (an admin key: a stored one or <c>Tern:Api:AdminKey</c>). Requests outside /v1 are not
/// looked at, so hooks, health, memory, metrics and the OpenAPI document stay without a key.
/// </summary>
public static class ApiKeyAuthentication
{
    public const string Scheme = "ApiKey";

    /// <summary>Policy: the caller is a tenant key.</summary>
    public const string TenantPolicy = "tenant";

    /// <summary>Policy: the caller is an admin key.</summary>
    public const string AdminPolicy = "admin";

    public const string KeyIdClaim = "tern:key";
    public const string TenantClaim = "tern:tenant";
    public const string RateLimitClaim = "tern:rate_limit";
    public const string AdminRole = "admin";
    public const string TenantRole = "tenant";

    /// <summary>The caller of an authenticated /v1 request; null before authentication or without a valid key.</summary>
    public static ApiCaller? Caller(this HttpContext context) => (context.User.Identity as ApiKeyIdentity)?.Caller;

    /// <summary>The calling tenant, on an endpoint under the <c>tenant</c> policy.</summary>
    public static string TenantId(this HttpContext context) =>
        context.Caller()?.TenantId ?? throw new InvalidOperationException("not a tenant key: the endpoint lacks the tenant policy");

    /// <summary>The detail of the 403 a key of the wrong kind gets here (the last one set wins: an endpoint's over its group's).</summary>
    public static TBuilder ForbiddenDetail<TBuilder>(this TBuilder builder, string detail) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ForbiddenDetailMetadata(detail));

    internal static AuthorizationBuilder AddApiKeyPolicies(this AuthorizationBuilder authorization) => authorization
        .SetDefaultPolicy(new AuthorizationPolicyBuilder(Scheme).RequireAuthenticatedUser().Build())
        .AddPolicy(TenantPolicy, policy => policy.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser().RequireClaim(TenantClaim))
        .AddPolicy(AdminPolicy, policy => policy.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser().RequireRole(AdminRole));
}

/// <summary>The 403 detail of an endpoint or group; see <see cref="ApiKeyAuthentication.ForbiddenDetail"/>.</summary>
public sealed record ForbiddenDetailMetadata(string Detail);

/// <summary>The authenticated key; carries the <see cref="ApiCaller"/> so the rate limiter and the endpoints read it without parsing claims.</summary>
public sealed class ApiKeyIdentity : ClaimsIdentity
{
    public ApiKeyIdentity(ApiCaller caller)
        : base(ClaimsOf(caller), ApiKeyAuthentication.Scheme, ApiKeyAuthentication.KeyIdClaim, ClaimTypes.Role)
    {
        Caller = caller;
    }

    public ApiCaller Caller { get; }

    private static IEnumerable<Claim> ClaimsOf(ApiCaller caller)
    {
        yield return new Claim(ApiKeyAuthentication.KeyIdClaim, caller.KeyId);
        yield return new Claim(ClaimTypes.Role, caller.IsAdmin ? ApiKeyAuthentication.AdminRole : ApiKeyAuthentication.TenantRole);
        if (caller.TenantId is { } tenant) yield return new Claim(ApiKeyAuthentication.TenantClaim, tenant);
        yield return new Claim(ApiKeyAuthentication.RateLimitClaim, caller.RateLimitPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture), ClaimValueTypes.Integer32);
    }
}

public sealed class ApiKeyAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>Only requests under this path are authenticated.</summary>
    public PathString Path { get; set; } = "/v1";

    /// <summary>SHA-256 of <c>Tern:Api:AdminKey</c>, when one is configured.</summary>
    public string? AdminKeyHash { get; set; }

    public int AdminRateLimitPerMinute { get; set; }
}

/// <summary>
/// <c>Authorization: Bearer tern_…</c>: the configured admin key (compared in constant time) or a stored
/// key through <see cref="ApiKeyCache"/>. No or another scheme is "no result", an unknown, malformed or
/// revoked key a failure; both are challenged with a 401 problem, a key of the wrong kind is a 403 problem.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<ApiKeyAuthenticationOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyCache cache)
    : AuthenticationHandler<ApiKeyAuthenticationOptions>(options, logger, encoder)
{
    private const string BearerPrefix = "Bearer ";
    private const string UnknownKey = "The API key is unknown or revoked.";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Path.StartsWithSegments(Options.Path)) return AuthenticateResult.NoResult();
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase)) return AuthenticateResult.NoResult();
        var key = header[BearerPrefix.Length..].Trim();
        var caller = Options.AdminKeyHash is { } adminHash && ApiKeys.Matches(key, adminHash)
            ? new ApiCaller("config-admin", null, Options.AdminRateLimitPerMinute)
            : await cache.ResolveAsync(key, Context.RequestAborted).ConfigureAwait(false);
        if (caller is null) return AuthenticateResult.Fail(UnknownKey);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ApiKeyIdentity(caller)), Scheme.Name));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync().ConfigureAwait(false);
        if (result.Failure is null)
        {
            Response.Headers.WWWAuthenticate = "Bearer";
            await ApiProblems.Unauthorized("Send Authorization: Bearer <API key>.").ExecuteAsync(Context).ConfigureAwait(false);
        }
        else
        {
            Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            await ApiProblems.Unauthorized(UnknownKey).ExecuteAsync(Context).ConfigureAwait(false);
        }
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var detail = Context.GetEndpoint()?.Metadata.GetMetadata<ForbiddenDetailMetadata>()?.Detail ?? "This key may not call this endpoint.";
        return ApiProblems.Forbidden(detail).ExecuteAsync(Context);
    }
}
