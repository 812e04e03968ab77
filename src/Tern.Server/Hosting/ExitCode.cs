namespace Tern.Server.Hosting;

/// <summary>The code `tern serve` exits with once the host has stopped (0, or 75 for a memory restart).</summary>
internal sealed class ExitCode
{
    private int _code;

    public int Code => Volatile.Read(ref _code);

    public void Set(int code) => Volatile.Write(ref _code, code);
}
