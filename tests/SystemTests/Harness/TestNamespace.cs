using System.Diagnostics;
using FlowMesh.Node.Kernel;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// A network namespace made for one test (one "host") and deleted, with everything
/// in it, when disposed.
/// </summary>
internal sealed class TestNamespace : IDisposable
{
    private TestNamespace(string name) => Name = name;

    public string Name { get; }

    public static TestNamespace Create(string role)
    {
        var name = $"fmt-{role}-{Environment.ProcessId}-{Random.Shared.Next(1 << 20):x}";
        Run("ip", "netns", "add", name);
        var ns = new TestNamespace(name);
        try
        {
            ns.Exec("ip", "link", "set", "lo", "up");
        }
        catch
        {
            ns.Dispose();
            throw;
        }
        return ns;
    }

    /// <summary>Runs <paramref name="action"/> on a thread inside the namespace; sockets it creates live there.</summary>
    public T Inside<T>(Func<T> action) => NetworkNamespace.Resolve(Name).RunInside(action);

    public void Exec(params string[] command) => Run(["ip", "netns", "exec", Name, .. command]);

    /// <summary>Joins two namespaces with a veth pair, one address (a /24) at each end; returns the two interface names (for tcpdump, tc).</summary>
    public static (string InterfaceA, string InterfaceB) Link(TestNamespace a, string addressA, TestNamespace b, string addressB)
    {
        var id = Random.Shared.Next(1 << 20).ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        var ifA = $"fma{id}";
        var ifB = $"fmb{id}";
        Run("ip", "link", "add", ifA, "netns", a.Name, "type", "veth", "peer", "name", ifB, "netns", b.Name);
        a.Exec("ip", "addr", "add", $"{addressA}/24", "dev", ifA);
        b.Exec("ip", "addr", "add", $"{addressB}/24", "dev", ifB);
        a.Exec("ip", "link", "set", ifA, "up");
        b.Exec("ip", "link", "set", ifB, "up");
        return (ifA, ifB);
    }

    public void Dispose() => Run("ip", "netns", "delete", Name);

    public static void Run(params string[] command)
    {
        var info = new ProcessStartInfo(command[0]) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in command.Skip(1))
            info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        _ = stdout.Result;
        if (p.ExitCode != 0)
            throw new XunitException($"`{string.Join(' ', command)}` failed ({p.ExitCode}): {stderr.Trim()}");
    }
}
