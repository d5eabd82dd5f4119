using System.Net;
using FlowMesh.Cluster.Transport;

namespace FlowMesh.Bench;

/// <summary>A throwaway CA and member certificate for a bench run with mutual TLS; removed when disposed.</summary>
internal sealed class BenchPki : IDisposable
{
    private readonly DirectoryInfo _directory;

    private BenchPki(DirectoryInfo directory, string ca, string cert, string key)
    {
        _directory = directory;
        Environment = new Dictionary<string, string>
        {
            ["FLOWMESH_CLUSTER__TLS__CA"] = ca,
            ["FLOWMESH_CLUSTER__TLS__CERT"] = cert,
            ["FLOWMESH_CLUSTER__TLS__KEY"] = key,
        };
    }

    /// <summary>The settings a member process reads the files from.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    public static BenchPki Create()
    {
        var directory = Directory.CreateTempSubdirectory("flowmesh-bench-pki-");
        var (ca, _) = CertificateMaker.MakeAuthority(directory.FullName, "FlowMesh bench CA", TimeSpan.FromDays(1));
        var (cert, key) = CertificateMaker.MakeMember(directory.FullName, directory.FullName, "member", [IPAddress.Loopback], [], TimeSpan.FromDays(1));
        return new BenchPki(directory, ca, cert, key);
    }

    /// <summary>The material loaded, for the bench's own client.</summary>
    public MutualTls Load() => MutualTls.Load(Environment["FLOWMESH_CLUSTER__TLS__CA"], Environment["FLOWMESH_CLUSTER__TLS__CERT"], Environment["FLOWMESH_CLUSTER__TLS__KEY"]);

    public void Dispose() => _directory.Delete(recursive: true);
}
