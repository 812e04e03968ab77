using Tern.Core.Catalog;

namespace Tern.Server.Application;

public enum FailureKind
{
    /// <summary>The input breaks a rule (API: 400).</summary>
    Invalid,

    /// <summary>What the operation is about does not exist, or belongs to someone else (API: 404).</summary>
    NotFound,

    /// <summary>The input is fine but clashes with what is stored: a taken id, a channel still in use (API: 409).</summary>
    Conflict,

    /// <summary>Tern is not taking this now (backlog over its bound, shedding load); try again later (API: 503 with Retry-After).</summary>
    Unavailable,
}

/// <summary>
/// Why an operation of the application services did nothing: its kind and the problems by field (API
/// names: <c>id</c>, <c>max_concurrency</c>, <c>{type}.token</c>, <c>to[1]</c>), first problem first.
/// The API shows all of them as application/problem+json; the CLI shows the first as one line naming its flag.
/// </summary>
public sealed class ValidationFailure
{
    public ValidationFailure(FailureKind kind, IReadOnlyList<FieldError> errors, string? detail = null)
    {
        if (errors.Count == 0) throw new ArgumentException("a failure names at least one field", nameof(errors));
        Kind = kind;
        Errors = errors;
        Detail = detail;
    }

    public FailureKind Kind { get; }

    public IReadOnlyList<FieldError> Errors { get; }

    /// <summary>A sentence for the whole failure (the API's <c>detail</c> of a 404: "No channel 'x'.").</summary>
    public string? Detail { get; }

    public FieldError First => Errors[0];

    public static ValidationFailure Invalid(IReadOnlyList<FieldError> errors) => new(FailureKind.Invalid, errors);

    public static ValidationFailure Invalid(string field, string message) => new(FailureKind.Invalid, [new FieldError(field, message)]);

    public static ValidationFailure NotFound(string field, string message, string detail) => new(FailureKind.NotFound, [new FieldError(field, message)], detail);

    public static ValidationFailure Conflict(string field, string message) => new(FailureKind.Conflict, [new FieldError(field, message)]);

    public static ValidationFailure Unavailable(string detail) => new(FailureKind.Unavailable, [new FieldError("", detail)], detail);

    public override string ToString() => $"{Kind}: {string.Join("; ", Errors.Select(e => $"{e.Field}: {e.Message}"))}";
}

/// <summary>The value an operation made or found, or the <see cref="ValidationFailure"/> that stopped it.</summary>
public readonly struct Result<T>
{
    private readonly T? _value;

    private Result(T? value, ValidationFailure? failure)
    {
        _value = value;
        Failure = failure;
    }

    public ValidationFailure? Failure { get; }

    public bool IsOk => Failure is null;

    /// <summary>The value; only when <see cref="IsOk"/>.</summary>
    public T Value => Failure is null ? _value! : throw new InvalidOperationException($"no value: {Failure}");

    public static implicit operator Result<T>(T value) => new(value, null);

    public static implicit operator Result<T>(ValidationFailure failure) => new(default, failure);
}

/// <summary>Problems collected field by field: the first problem of a field wins, as the API has always answered.</summary>
internal sealed class FieldErrors
{
    private readonly List<FieldError> _errors = [];

    public int Count => _errors.Count;

    public List<FieldError> List => _errors;

    public void Check(string field, string? problem)
    {
        if (problem is not null && !Has(field)) _errors.Add(new FieldError(field, problem));
    }

    public void Add(FieldError error)
    {
        if (!Has(error.Field)) _errors.Add(error);
    }

    public bool Has(string field) => _errors.Exists(e => e.Field == field);

    /// <summary>Takes a channel type's problems, whose fields are relative to its settings object.</summary>
    public void AddUnder(string property, IEnumerable<FieldError> errors)
    {
        foreach (var e in errors) Add(e with { Field = e.Field.Length == 0 ? property : property + "." + e.Field });
    }

    public ValidationFailure ToFailure() => ValidationFailure.Invalid(_errors.ToArray());
}
