using System.Reflection;
using FlowMesh.Node.Kernel;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// What the kernel tests need. A test that lacks it fails, naming what is missing
/// and how to get it; nothing is silently skipped.
/// </summary>
internal static class KernelTestRequirements
{
    public static string NodeAssembly { get; } =
        typeof(KernelTestRequirements).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "NodeAssembly").Value!;

    public static string AggregatorAssembly { get; } =
        typeof(KernelTestRequirements).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "AggregatorAssembly").Value!;

    public static void Require()
    {
        var missing = CaptureRequirements.MissingCapabilities(CaptureRequirements.ReadEffectiveCapabilities());
        if (missing.Count > 0)
            throw new XunitException($"kernel tests need root (missing {string.Join(", ", missing)}): run ./test.sh as root (sudo ./test.sh)");
        if (!File.Exists(CaptureRequirements.BtfPath))
            throw new XunitException($"kernel tests need kernel BTF at {CaptureRequirements.BtfPath} (CONFIG_DEBUG_INFO_BTF=y)");
        if (!File.Exists(NodeAssembly))
            throw new XunitException($"the Node was not built at {NodeAssembly}: run `dotnet build` first");
        if (!File.Exists(Path.Combine(Path.GetDirectoryName(NodeAssembly)!, "capture.bpf.o")))
            throw new XunitException("capture.bpf.o is missing beside the Node: building it needs clang, llvm, libbpf-dev and bpftool (scripts/install-deps.sh)");
    }
}
