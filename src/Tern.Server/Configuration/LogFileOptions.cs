namespace Tern.Server.Configuration;

/// <summary>The optional log file: size-based rotation with a number of files kept.</summary>
public sealed record LogFileOptions(string Path, long MaxBytes, int RetainedFiles)
{
    public static LogFileOptions? Read(SettingReader s)
    {
        var path = s.OptionalString("Tern:Logging:File:Path");
        var maxBytes = s.Size("Tern:Logging:File:MaxSize", 10L << 20, 64L << 10, 10L << 30);
        var retained = s.WholeNumber("Tern:Logging:File:RetainedFiles", 7, 1, 1000);
        return path is null ? null : new LogFileOptions(path, maxBytes, retained);
    }
}
