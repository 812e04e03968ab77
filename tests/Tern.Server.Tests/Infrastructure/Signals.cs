using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Tern.Server.Tests.Infrastructure;

/// <summary>POSIX signals to a child process (Process.Kill only sends SIGKILL).</summary>
internal static partial class Signals
{
    private const int SigTerm = 15;

    public static void Terminate(int pid)
    {
        try
        {
            if (SendSignal(pid, SigTerm) != 0) throw new InvalidOperationException($"kill({pid}, SIGTERM) failed with errno {Marshal.GetLastPInvokeError()}");
        }
        catch (DllNotFoundException)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })
                ?? throw new InvalidOperationException("could not run kill");
            kill.WaitForExit();
            if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -TERM {pid} exited with {kill.ExitCode}");
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
