using System.Net;
using FlowMesh.Cluster.Transport;

namespace FlowMesh.SystemTests.Harness;

/// <summary>
/// The suite's cluster CA and one member certificate, made once per test run in a private
/// directory with FlowMesh's own <c>certs</c> code, and a trace tag key: every member and
/// client the tests start uses them, so the whole suite runs with mutual TLS on and signed
/// tags, as a fleet would.
/// </summary>
internal static class TestTls
{
    private static readonly Lazy<(string Ca, string Cert, string Key, string TagKeys)> Files = new(Make);

    public static string Ca => Files.Value.Ca;
    public static string Cert => Files.Value.Cert;
    public static string Key => Files.Value.Key;

    /// <summary>The suite's trace tag key file (one random key).</summary>
    public static string TagKeys => Files.Value.TagKeys;

    /// <summary>The settings a member process reads them from.</summary>
    public static IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["FLOWMESH_CLUSTER__TLS__CA"] = Ca,
        ["FLOWMESH_CLUSTER__TLS__CERT"] = Cert,
        ["FLOWMESH_CLUSTER__TLS__KEY"] = Key,
        ["FLOWMESH_NODE__TAGKEYFILE"] = TagKeys,
    };

    /// <summary>A new random tag key, as the README says to make one (32 hex digits).</summary>
    public static string NewTagKey() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>The material loaded, for a client in the test process (each its own: it counts its refusals).</summary>
    public static MutualTls Load() => MutualTls.Load(Ca, Cert, Key);

    private static (string, string, string, string) Make()
    {
        var directory = Directory.CreateTempSubdirectory("flowmesh-test-tls-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(directory, recursive: true);
        var (ca, _) = CertificateMaker.MakeAuthority(directory, "FlowMesh test CA", TimeSpan.FromDays(2));
        var (cert, key) = CertificateMaker.MakeMember(directory, directory, "member", [IPAddress.Loopback], [], TimeSpan.FromDays(1));
        var tagKeys = Path.Combine(directory, "tag-keys");
        File.WriteAllText(tagKeys, NewTagKey() + "\n");
        return (ca, cert, key, tagKeys);
    }
}
