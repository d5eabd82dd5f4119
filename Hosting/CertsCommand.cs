using System.CommandLine;
using System.Net;
using FlowMesh.Cluster.Transport;

namespace FlowMesh.Hosting;

/// <summary>
/// <c>certs ca</c> and <c>certs member</c>: the cluster's CA and member certificates as PEM
/// files, for <c>Cluster:Tls:Ca</c>, <c>Cert</c> and <c>Key</c>. Made with .NET's own APIs.
/// </summary>
public static class CertsCommand
{
    public static Command Create()
    {
        var caOut = new Option<string>("--out") { Description = "Directory for ca.crt and ca.key (made if missing).", Required = true, HelpName = "DIR" };
        var caName = new Option<string>("--name") { Description = "The CA's common name.", DefaultValueFactory = _ => "FlowMesh cluster CA", HelpName = "NAME" };
        var caYears = new Option<int>("--years") { Description = "Years the CA is valid.", DefaultValueFactory = _ => 10, HelpName = "N" };
        var ca = new Command("ca", "Make the cluster's CA: ca.crt (give it to every member as Cluster:Tls:Ca) and ca.key (keep it off the fleet).") { caOut, caName, caYears };
        ca.SetAction(parse => Run(() =>
        {
            var (cert, key) = CertificateMaker.MakeAuthority(parse.GetValue(caOut)!, parse.GetValue(caName)!, TimeSpan.FromDays(365 * parse.GetValue(caYears)));
            Console.WriteLine($"CA certificate {cert}, its private key {key}");
        }));

        var caDir = new Option<string>("--ca") { Description = "Directory holding ca.crt and ca.key.", Required = true, HelpName = "DIR" };
        var memberOut = new Option<string?>("--out") { Description = "Directory for NAME.crt and NAME.key [default: the CA's directory].", HelpName = "DIR" };
        var name = new Option<string>("--name") { Description = "The member's name (common name and DNS name).", DefaultValueFactory = _ => "flowmesh", HelpName = "NAME" };
        var ips = new Option<string[]>("--ip") { Description = "An address to name in the certificate (repeatable; members check the CA, not names).", HelpName = "ADDRESS" };
        var dns = new Option<string[]>("--dns") { Description = "Another DNS name (repeatable).", HelpName = "NAME" };
        var days = new Option<int>("--days") { Description = "Days the certificate is valid (at most the CA's own validity).", DefaultValueFactory = _ => 365, HelpName = "N" };
        var member = new Command("member", "Make a member certificate signed by the CA, for client and server use: NAME.crt (Cluster:Tls:Cert) and NAME.key (Cluster:Tls:Key).")
        {
            caDir, memberOut, name, ips, dns, days,
        };
        member.SetAction(parse => Run(() =>
        {
            var addresses = new List<IPAddress>();
            foreach (var text in parse.GetValue(ips) ?? [])
            {
                if (!IPAddress.TryParse(text, out var address))
                    throw new ClusterTlsException($"--ip '{text}' is not an IP address");
                addresses.Add(address);
            }
            var (cert, key) = CertificateMaker.MakeMember(parse.GetValue(caDir)!, parse.GetValue(memberOut) ?? parse.GetValue(caDir)!, parse.GetValue(name)!,
                addresses, parse.GetValue(dns) ?? [], TimeSpan.FromDays(parse.GetValue(days)));
            Console.WriteLine($"member certificate {cert}, its private key {key}");
        }));
        return new Command("certs", "Make the cluster's TLS certificates (a CA, then one certificate per member or one for all).") { ca, member };
    }

    private static int Run(Action make)
    {
        try
        {
            make();
            return 0;
        }
        catch (Exception e) when (e is ClusterTlsException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"flowmesh: error: {e.Message}");
            return 2;
        }
    }
}
