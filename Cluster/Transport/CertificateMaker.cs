using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FlowMesh.Cluster.Transport;

/// <summary>
/// Makes the cluster's CA and member certificates with .NET's own APIs (ECDSA P-256), as
/// PEM files, so that no openssl is needed. A member certificate serves both ways (server
/// and client use): every member listens and dials. Private keys are written readable by
/// their owner only.
/// </summary>
public static class CertificateMaker
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    /// <summary>Writes <c>ca.crt</c> and <c>ca.key</c> into <paramref name="directory"/>; refuses to overwrite a CA.</summary>
    public static (string Cert, string Key) MakeAuthority(string directory, string name, TimeSpan validFor)
    {
        var (certPath, keyPath) = (Path.Combine(directory, "ca.crt"), Path.Combine(directory, "ca.key"));
        if (File.Exists(certPath) || File.Exists(keyPath))
            throw new ClusterTlsException($"{directory} holds a CA already (ca.crt, ca.key); remove it or choose another --out");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = request.CreateSelfSigned(now.AddMinutes(-5), now + validFor);
        Write(directory, certPath, ca.ExportCertificatePem(), keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certPath, keyPath);
    }

    /// <summary>Writes <c>{name}.crt</c> and <c>{name}.key</c>, signed by the CA in <paramref name="caDirectory"/>.</summary>
    public static (string Cert, string Key) MakeMember(string caDirectory, string directory, string name, IEnumerable<IPAddress> addresses, IEnumerable<string> dnsNames, TimeSpan validFor)
    {
        var (caCert, caKey) = (Path.Combine(caDirectory, "ca.crt"), Path.Combine(caDirectory, "ca.key"));
        if (!File.Exists(caCert) || !File.Exists(caKey))
            throw new ClusterTlsException($"{caDirectory} holds no CA (ca.crt and ca.key); make one with `certs ca --out {caDirectory}`");
        using var ca = X509Certificate2.CreateFromPemFile(caCert, caKey);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuth, ClientAuth], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(name);
        foreach (var dns in dnsNames)
            names.AddDnsName(dns);
        foreach (var address in addresses)
            names.AddIpAddress(address);
        request.CertificateExtensions.Add(names.Build());
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // a positive serial number
        var now = DateTimeOffset.UtcNow;
        var notAfter = now + validFor < ca.NotAfter ? now + validFor : new DateTimeOffset(ca.NotAfter.ToUniversalTime());
        using var member = request.Create(ca, now.AddMinutes(-5), notAfter, serial);
        var (certPath, keyPath) = (Path.Combine(directory, name + ".crt"), Path.Combine(directory, name + ".key"));
        Write(directory, certPath, member.ExportCertificatePem(), keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certPath, keyPath);
    }

    private static void Write(string directory, string certPath, string certPem, string keyPath, string keyPem)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(certPath, certPem + "\n");
        // Created owner-only before the key is in it (a file left from before keeps its mode, so it goes first).
        File.Delete(keyPath);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(keyPath, options);
        using var writer = new StreamWriter(stream);
        writer.Write(keyPem + "\n");
    }
}
