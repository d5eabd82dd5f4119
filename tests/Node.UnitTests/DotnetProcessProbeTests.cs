using FlowMesh.Node.Runtime.Dotnet;

namespace FlowMesh.Node.UnitTests;

/// <summary>The probe's readings of /proc text, on the shapes the kernel writes.</summary>
public sealed class DotnetProcessProbeTests
{
    [Fact]
    public void The_own_pid_is_the_last_NSpid_field()
    {
        Assert.Equal(1, DotnetProcessProbe.NamespacePid("Name:\tdotnet\nTgid:\t4242\nNSpid:\t4242\t17\t1\nNSsid:\t1\n"));
        Assert.Equal(4242, DotnetProcessProbe.NamespacePid("Name:\tdotnet\nNSpid:\t4242\n"));
        Assert.Null(DotnetProcessProbe.NamespacePid("Name:\tdotnet\n")); // kernels before 4.1
    }

    [Fact]
    public void The_start_time_is_counted_from_the_end_of_the_command_name()
    {
        // A command name may hold spaces and parentheses.
        var stat = "13929 (a) b (c) S 1 13929 13929 0 -1 4194560 9000 0 0 0 26 8 0 0 20 0 19 0 3056543 3262418944 14000 18446744073709551615";
        Assert.Equal(3056543, DotnetProcessProbe.StartTimeTicks(stat));
        Assert.Null(DotnetProcessProbe.StartTimeTicks("13929 (dotnet) S 1"));
    }

    [Fact]
    public void Time_namespace_offsets_are_read_by_clock_name()
    {
        Assert.Equal((3_600_000_000_000L, 0L), DotnetProcessProbe.TimeNamespaceOffsets("monotonic        3600         0\nboottime            0         0\n"));
        Assert.Equal((-1_500_000_000L, 2_000_000_000L), DotnetProcessProbe.TimeNamespaceOffsets("monotonic  -2  500000000\nboottime  2  0\n"));
        Assert.Equal((0L, 0L), DotnetProcessProbe.TimeNamespaceOffsets(null)); // kernels before 5.6
    }

    [Fact]
    public void Diagnostics_are_disabled_only_by_a_zero()
    {
        Assert.Equal("DOTNET_EnableDiagnostics=0", DotnetProcessProbe.DiagnosticsDisabledBy("PATH=/bin\0DOTNET_EnableDiagnostics=0\0"));
        Assert.Equal("COMPlus_EnableDiagnostics_IPC=0", DotnetProcessProbe.DiagnosticsDisabledBy("COMPlus_EnableDiagnostics_IPC=0\0"));
        Assert.Null(DotnetProcessProbe.DiagnosticsDisabledBy("DOTNET_EnableDiagnostics=1\0"));
        Assert.Null(DotnetProcessProbe.DiagnosticsDisabledBy("XDOTNET_EnableDiagnostics=0\0"));
        Assert.Null(DotnetProcessProbe.DiagnosticsDisabledBy(""));
    }

    [Fact]
    public void An_environment_value_is_found_by_its_exact_name()
    {
        const string environ = "TMPDIR_OLD=/x\0TMPDIR=/tmp/inner\0HOME=/root\0";
        Assert.Equal("/tmp/inner", DotnetProcessProbe.EnvironmentValue(environ, "TMPDIR"));
        Assert.Null(DotnetProcessProbe.EnvironmentValue(environ, "TMP"));
    }

    [Fact]
    public void A_socket_left_by_an_earlier_process_with_the_same_pid_is_not_taken()
    {
        var directory = Directory.CreateTempSubdirectory("fm-probe-");
        try
        {
            var started = DateTime.UtcNow.AddMinutes(-1);
            string Touch(string name, DateTime when)
            {
                var path = Path.Combine(directory.FullName, name);
                File.WriteAllText(path, "");
                File.SetLastWriteTimeUtc(path, when);
                return path;
            }
            Touch("dotnet-diagnostic-7-100-socket", started.AddHours(-2));  // a killed runtime's leftover
            Touch("dotnet-diagnostic-17-900-socket", started.AddSeconds(5)); // another pid
            Assert.Null(DotnetProcessProbe.NewestSocket(directory.FullName, 7, started));

            var own = Touch("dotnet-diagnostic-7-200-socket", started.AddSeconds(1));
            Assert.Equal(own, DotnetProcessProbe.NewestSocket(directory.FullName, 7, started));
            Assert.Null(DotnetProcessProbe.NewestSocket("/nonexistent-fm-dir", 7, started));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_pid_that_does_not_exist_is_gone_without_an_exception()
    {
        var probe = DotnetProcessProbe.Probe(int.MaxValue);
        Assert.Equal(DotnetProbeStatus.Gone, probe.Status);
        Assert.False(DotnetProcessProbe.IsDotnet(int.MaxValue));
        Assert.False(DotnetProcessProbe.IsAlive(int.MaxValue));
    }

    [Fact]
    public void This_test_process_is_dotnet()
    {
        Assert.True(DotnetProcessProbe.IsDotnet(Environment.ProcessId));
        Assert.True(DotnetProcessProbe.IsAlive(Environment.ProcessId));
    }
}
