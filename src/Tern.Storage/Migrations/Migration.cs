using System.Globalization;
using System.Reflection;

namespace Tern.Storage.Migrations;

/// <summary>A versioned SQL file shipped inside the assembly (<c>Migrations/{engine}/NNNN_name.sql</c>).</summary>
public sealed record Migration(int Version, string Name, string Sql)
{
    /// <summary>The migrations of one engine, in version order.</summary>
    public static IReadOnlyList<Migration> For(string engine)
    {
        var assembly = typeof(Migration).Assembly;
        var prefix = $"Tern.Storage.Migrations.{engine}.";
        var list = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(prefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal)) continue;
            var name = resource[prefix.Length..^4];
            var underscore = name.IndexOf('_', StringComparison.Ordinal);
            if (underscore <= 0 || !int.TryParse(name.AsSpan(0, underscore), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                throw new InvalidOperationException($"Migration resource '{resource}' is not named NNNN_name.sql");
            }
            list.Add(new Migration(version, name, Read(assembly, resource)));
        }
        list.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 1; i < list.Count; i++)
        {
            if (list[i].Version == list[i - 1].Version) throw new InvalidOperationException($"Two migrations have version {list[i].Version}");
        }
        return list;
    }

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
