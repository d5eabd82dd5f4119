using System.Net;
using FlowMesh.Cluster.Transport;

namespace FlowMesh.Cluster.UnitTests;

/// <summary>What <see cref="MutualTls.Load"/> accepts and the one line it gives for what it does not.</summary>
public sealed class MutualTlsTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("flowmesh-tls-unit-");

    private string Dir(string name) => Directory.CreateDirectory(Path.Combine(_directory.FullName, name)).FullName;

    [Fact]
    public void A_member_certificate_from_the_CA_loads_and_a_CA_bundle_trusts_either_CA()
    {
        var (ca, _) = CertificateMaker.MakeAuthority(Dir("old"), "old CA", TimeSpan.FromDays(1));
        var (newCa, _) = CertificateMaker.MakeAuthority(Dir("new"), "new CA", TimeSpan.FromDays(1));
        var (cert, key) = CertificateMaker.MakeMember(Dir("old"), Dir("members"), "m", [IPAddress.Loopback], ["m.example"], TimeSpan.FromDays(1));
        using (var tls = MutualTls.Load(ca, cert, key))
            Assert.Equal("CN=m", tls.Certificate.Subject);
        // During a CA change every member holds both CAs: a certificate from the old one still loads.
        var bundle = Path.Combine(_directory.FullName, "bundle.crt");
        File.WriteAllText(bundle, File.ReadAllText(newCa) + File.ReadAllText(ca));
        using (MutualTls.Load(bundle, cert, key))
        {
        }
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
    }

    [Fact]
    public void Material_that_cannot_work_is_one_line_saying_what_is_wrong()
    {
        var (ca, _) = CertificateMaker.MakeAuthority(Dir("ca"), "the CA", TimeSpan.FromDays(1));
        var (other, _) = CertificateMaker.MakeAuthority(Dir("other"), "another CA", TimeSpan.FromDays(1));
        var (cert, key) = CertificateMaker.MakeMember(Dir("ca"), Dir("m"), "m", [], [], TimeSpan.FromDays(1));
        var (expired, expiredKey) = CertificateMaker.MakeMember(Dir("ca"), Dir("e"), "e", [], [], TimeSpan.FromMinutes(-1));

        Assert.Contains("is not signed by the CA", Assert.Throws<ClusterTlsException>(() => MutualTls.Load(other, cert, key)).Message, StringComparison.Ordinal);
        Assert.Contains("expired on", Assert.Throws<ClusterTlsException>(() => MutualTls.Load(ca, expired, expiredKey)).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<ClusterTlsException>(() => MutualTls.Load(ca, cert, key + ".gone")).Message, StringComparison.Ordinal);
        // A certificate with another member's key.
        Assert.Contains("private key", Assert.Throws<ClusterTlsException>(() => MutualTls.Load(ca, cert, expiredKey)).Message, StringComparison.Ordinal);
        Assert.Contains("holds a CA already", Assert.Throws<ClusterTlsException>(() => CertificateMaker.MakeAuthority(Dir("ca"), "again", TimeSpan.FromDays(1))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_material_plaintext_is_allowed_on_loopback_only()
    {
        Assert.Null(ClusterSettings.LoadTls("", "", "", "127.0.0.1"));
        Assert.Null(ClusterSettings.LoadTls(null, null, null, "::1"));
        Assert.Contains("needs mutual TLS", Assert.Throws<ClusterTlsException>(() => ClusterSettings.LoadTls("", "", "", "0.0.0.0")).Message, StringComparison.Ordinal);
        Assert.Contains("all three", Assert.Throws<ClusterTlsException>(() => ClusterSettings.LoadTls("ca.crt", "", "", "127.0.0.1")).Message, StringComparison.Ordinal);
    }

    public void Dispose() => _directory.Delete(recursive: true);
}
