using System.Diagnostics.Metrics;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Proto.Remote;
using Proto.Remote.GrpcNet;

namespace FlowMesh.Cluster.Transport;

/// <summary>
/// Mutual TLS for the cluster transport (Proto.Remote's gRPC over HTTP/2): this member
/// presents its certificate to every peer and accepts only peers whose certificate chains
/// to the cluster's CA (and carries the client or server use). Names are not checked:
/// members are dialled at addresses the membership hands out, so the CA is the boundary.
/// Every refused peer is counted, both ways (<see cref="Refused"/>).
/// </summary>
public sealed class MutualTls : IDisposable
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private readonly X509Certificate2 _certificate;
    private readonly X509Certificate2Collection _authorities;
    private readonly MeterListener _handshakes = new();
    private long _refusedInbound;
    private long _refusedOutbound;

    private MutualTls(X509Certificate2 certificate, X509Certificate2Collection authorities)
    {
        _certificate = certificate;
        _authorities = authorities;
        // A peer with no certificate, another CA's, or plain HTTP fails Kestrel's handshake
        // before any callback of ours runs; Kestrel's own metric is where every one shows.
        _handshakes.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Microsoft.AspNetCore.Server.Kestrel" && instrument.Name == "kestrel.tls_handshake.duration")
                listener.EnableMeasurementEvents(instrument);
        };
        _handshakes.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "error.type")
                    Interlocked.Increment(ref _refusedInbound);
            }
        });
        _handshakes.Start();
    }

    /// <summary>Peers refused: handshakes on this member's port that failed, and peers this member dialled whose certificate it refused.</summary>
    public long Refused => Interlocked.Read(ref _refusedInbound) + Interlocked.Read(ref _refusedOutbound);

    /// <summary>This member's certificate (subject and expiry go in the start-up log).</summary>
    public X509Certificate2 Certificate => _certificate;

    /// <summary>
    /// Loads PEM files: the CA certificate(s) (a bundle of several during a CA change), this
    /// member's certificate and its private key. Throws <see cref="ClusterTlsException"/>
    /// with one line saying what is wrong and how to fix it.
    /// </summary>
    public static MutualTls Load(string caFile, string certFile, string keyFile, TimeProvider? time = null)
    {
        var now = (time ?? TimeProvider.System).GetUtcNow();
        foreach (var (file, setting) in new[] { (caFile, "Cluster:Tls:Ca"), (certFile, "Cluster:Tls:Cert"), (keyFile, "Cluster:Tls:Key") })
        {
            if (!File.Exists(file))
                throw new ClusterTlsException($"{setting} file {file} does not exist; make the cluster's certificates with `certs ca` and `certs member`");
        }
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(caFile);
        }
        catch (CryptographicException e)
        {
            throw new ClusterTlsException($"Cluster:Tls:Ca {caFile} is not a PEM certificate ({e.Message})");
        }
        if (authorities.Count == 0)
            throw new ClusterTlsException($"Cluster:Tls:Ca {caFile} holds no certificate");
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException) // ArgumentException: the key is another certificate's
        {
            throw new ClusterTlsException($"Cluster:Tls:Cert {certFile} and Cluster:Tls:Key {keyFile} are not a PEM certificate and its private key ({e.Message})");
        }
        if (certificate.NotAfter.ToUniversalTime() <= now.UtcDateTime)
            throw new ClusterTlsException($"the certificate {certFile} ({certificate.Subject}) expired on {certificate.NotAfter.ToUniversalTime():u}; make a new one with `certs member`");
        if (certificate.NotBefore.ToUniversalTime() > now.UtcDateTime)
            throw new ClusterTlsException($"the certificate {certFile} ({certificate.Subject}) is valid only from {certificate.NotBefore.ToUniversalTime():u}; check this host's clock");
        var tls = new MutualTls(certificate, authorities);
        if (!tls.Chains(certificate, ClientAuth) || !tls.Chains(certificate, ServerAuth))
        {
            var subject = certificate.Subject;
            tls.Dispose();
            throw new ClusterTlsException($"the certificate {certFile} ({subject}) is not signed by the CA in {caFile} for client and server use; make it with `certs member` from that CA");
        }
        return tls;
    }

    /// <summary>Proto.Remote's settings with TLS both ways: Kestrel asks for a client certificate, channels present ours.</summary>
    public RemoteConfig Apply(RemoteConfig remote) =>
        (remote with { UseHttps = true, ConfigureKestrel = Listen })
        .WithChannelOptions(new GrpcChannelOptions
        {
            // One handler for every channel Proto.Remote opens; it never disposes them.
            HttpHandler = Handler(),
            DisposeHttpClient = false,
        });

    private void Listen(ListenOptions listen)
    {
        // Proto.Remote sets HTTP/2 itself only when it configures Kestrel on its own.
        listen.Protocols = HttpProtocols.Http2;
        listen.UseHttps(new HttpsConnectionAdapterOptions
        {
            ServerCertificate = _certificate,
            ClientCertificateMode = ClientCertificateMode.RequireCertificate,
            CheckCertificateRevocation = false,
            SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            // A refusal here fails the handshake, which Kestrel's metric counts.
            ClientCertificateValidation = (certificate, _, _) => Chains(certificate, ClientAuth),
        });
    }

    private SocketsHttpHandler Handler() => new()
    {
        EnableMultipleHttp2Connections = true,
        PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        KeepAlivePingDelay = TimeSpan.FromSeconds(30),
        KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
        SslOptions = new SslClientAuthenticationOptions
        {
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            // Always ours, whatever CA list the server advertises.
            LocalCertificateSelectionCallback = (_, _, _, _, _) => _certificate,
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                if (Chains(certificate, ServerAuth))
                    return true;
                Interlocked.Increment(ref _refusedOutbound);
                return false;
            },
        },
    };

    /// <summary>Whether <paramref name="presented"/> chains to one of the cluster's CAs for <paramref name="use"/> (revocation not checked: the CA is private).</summary>
    private bool Chains(X509Certificate? presented, Oid use)
    {
        if (presented is null)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.ApplicationPolicy.Add(use);
        if (presented is X509Certificate2 certificate)
            return chain.Build(certificate);
        using var copy = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        return chain.Build(copy);
    }

    public void Dispose()
    {
        _handshakes.Dispose();
        _certificate.Dispose();
        foreach (var authority in _authorities)
            authority.Dispose();
    }
}
