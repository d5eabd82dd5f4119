namespace FlowMesh.SystemTests.Harness;

/// <summary>Client, router and server namespaces: the router forwards a public address to the server and masquerades the client.</summary>
internal sealed class NatHosts : IDisposable
{
    private NatHosts(TestNamespace client, TestNamespace router, TestNamespace server, int net)
    {
        (Client, Router, Server) = (client, router, server);
        ClientAddress = $"10.216.{net}.1";
        PublicAddress = $"10.216.{net}.254";
        RouterInsideAddress = $"10.217.{net}.254";
        ServerAddress = $"10.217.{net}.2";
    }

    public TestNamespace Client { get; }
    public TestNamespace Router { get; }
    public TestNamespace Server { get; }
    public string ClientAddress { get; }
    public string PublicAddress { get; }
    public string RouterInsideAddress { get; }
    public string ServerAddress { get; }

    public static NatHosts Create()
    {
        var net = Random.Shared.Next(1, 250);
        var client = TestNamespace.Create("nc");
        var router = TestNamespace.Create("nr");
        var server = TestNamespace.Create("ns");
        var hosts = new NatHosts(client, router, server, net);
        try
        {
            TestNamespace.Link(client, hosts.ClientAddress, router, hosts.PublicAddress);
            TestNamespace.Link(router, hosts.RouterInsideAddress, server, hosts.ServerAddress);
            client.Exec("ip", "route", "add", "default", "via", hosts.PublicAddress);
            server.Exec("ip", "route", "add", "default", "via", hosts.RouterInsideAddress);
            router.Exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
            var rules = $$"""
                table ip flowmesh_nat {
                  chain prerouting {
                    type nat hook prerouting priority dstnat;
                    ip daddr {{hosts.PublicAddress}} tcp dport {{8080}} dnat to {{hosts.ServerAddress}}:{{8080}}
                  }
                  chain postrouting {
                    type nat hook postrouting priority srcnat;
                    ip daddr {{hosts.ServerAddress}} masquerade
                  }
                }
                """;
            var file = Path.GetTempFileName();
            File.WriteAllText(file, rules);
            try
            {
                router.Exec("nft", "-f", file);
            }
            finally
            {
                File.Delete(file);
            }
            return hosts;
        }
        catch
        {
            hosts.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Server.Dispose();
        Router.Dispose();
        Client.Dispose();
    }
}
