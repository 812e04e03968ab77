using Tern.StandIns.Processes;

namespace Tern.StandIns.Tests;

/// <summary>The shared child-process helper the Server tests and the benchmarks run tern with.</summary>
public sealed class ChildProcessTests
{
    private static System.Diagnostics.ProcessStartInfo Sh(string script, IReadOnlyDictionary<string, string>? environment = null) =>
        ChildProcess.StartInfo("/bin/sh", ["-c", script], Path.GetTempPath(), environment);

    [Fact]
    public async Task Output_and_exit_code_are_captured_and_TERN_variables_are_not_inherited()
    {
        Environment.SetEnvironmentVariable("TERN__FROM_THE_MACHINE", "leaked");
        var sink = new List<string>();
        await using var child = ChildProcess.Start(
            Sh("echo out-1; echo err-1 >&2; echo \"${TERN__FROM_THE_MACHINE:-none} $GIVEN\"; exit 3", new Dictionary<string, string> { ["GIVEN"] = "given" }),
            sink: line => sink.Add(line));

        Assert.Equal(3, await child.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("out-1\nnone given", child.Stdout);
        Assert.Equal("err-1", child.Stderr);
        Assert.True(child.HasStderr);
        Assert.Equal("none given", child.StdoutTail(1));
        Assert.Equal(3, sink.Count);
    }

    [Fact]
    public async Task A_wait_that_runs_out_throws_and_Terminate_stops_the_process()
    {
        await using var child = ChildProcess.Start(Sh("echo started; exec sleep 60"));

        await Assert.ThrowsAsync<TimeoutException>(() => child.WaitForExitAsync(TimeSpan.FromMilliseconds(200)));
        Assert.False(child.HasExited);
        var exitCode = await child.TerminateAsync(TimeSpan.FromSeconds(30));
        Assert.NotEqual(-1, exitCode);
        Assert.True(child.HasExited);
    }

    [Fact]
    public async Task Dispose_kills_a_process_still_running()
    {
        var child = ChildProcess.Start(Sh("exec sleep 60"));
        var pid = child.Id;
        await child.DisposeAsync();
        Assert.Throws<ArgumentException>(() => System.Diagnostics.Process.GetProcessById(pid));
    }
}
