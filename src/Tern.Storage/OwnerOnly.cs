namespace Tern.Storage;

/// <summary>
/// Files and folders that hold Tern's data (the database, its WAL, the key file, the logs) are created readable by
/// their owner alone, from the first moment: made with the mode, never made first and narrowed after.
/// </summary>
public static class OwnerOnly
{
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates the folder (and missing parents) as 0700; an existing folder is left as it is.</summary>
    public static void CreateFolder(string path)
    {
        if (string.IsNullOrEmpty(path) || Directory.Exists(path)) return;
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, FolderMode);
    }

    /// <summary>Creates an empty file as 0600 when it is missing; false when it existed.</summary>
    public static bool CreateEmptyFile(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, System.IO.FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None, preallocationSize: 0);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(handle, FileMode);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }
    }

    /// <summary>Options for a file stream that creates its file as 0600 (an existing file keeps its mode).</summary>
    public static FileStreamOptions StreamOptions(System.IO.FileMode mode, FileAccess access, FileShare share)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = share };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = FileMode;
        return options;
    }

    /// <summary>Takes group and other access away from an existing file (a database made before Tern did this); true when it changed.</summary>
    public static bool Narrow(string path)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(path)) return false;
        var mode = File.GetUnixFileMode(path);
        var narrowed = mode & ~(UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute);
        if (narrowed == mode) return false;
        File.SetUnixFileMode(path, narrowed);
        return true;
    }
}
