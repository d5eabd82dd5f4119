using System.CommandLine;
using FlowMesh.Cluster;
using FlowMesh.Cluster.Transport;

namespace FlowMesh.Hosting;

/// <summary>The flags of commands that join the cluster as a client to ask it something.</summary>
public sealed class ClientOptions
{
    public Option<string> Redis { get; } = new("--redis")
    {
        Description = "Redis endpoint of the cluster [FLOWMESH_CLUSTER__REDIS].",
        HelpName = "HOST:PORT",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FLOWMESH_CLUSTER__REDIS") ?? "127.0.0.1:6379",
    };

    public Option<string> Cluster { get; } = new("--cluster")
    {
        Description = "Cluster name [FLOWMESH_CLUSTER__NAME].",
        HelpName = "NAME",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FLOWMESH_CLUSTER__NAME") ?? "flowmesh",
    };

    public Option<string?> TlsCa { get; } = Tls("--tls-ca", "The cluster's CA certificate (PEM)", "CA");

    public Option<string?> TlsCert { get; } = Tls("--tls-cert", "A member certificate from that CA (PEM)", "CERT");

    public Option<string?> TlsKey { get; } = Tls("--tls-key", "Its private key (PEM)", "KEY");

    private static Option<string?> Tls(string name, string what, string variable) => new(name)
    {
        Description = $"{what}, when the cluster uses mutual TLS [FLOWMESH_CLUSTER__TLS__{variable}].",
        HelpName = "FILE",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable($"FLOWMESH_CLUSTER__TLS__{variable}"),
    };

    /// <summary>Adds <c>--redis</c>, <c>--cluster</c> and the TLS files to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in (Option[])[Redis, Cluster, TlsCa, TlsCert, TlsKey])
            command.Options.Add(option);
    }

    /// <summary>The client's settings, or false after printing one line when its TLS files cannot work.</summary>
    public bool TrySettings(ParseResult parse, out ClusterSettings settings)
    {
        settings = new ClusterSettings { Redis = parse.GetValue(Redis)!, Name = parse.GetValue(Cluster)! };
        try
        {
            // A client listens on loopback only; TLS when the cluster uses it.
            settings = settings with { Tls = ClusterSettings.LoadTls(parse.GetValue(TlsCa), parse.GetValue(TlsCert), parse.GetValue(TlsKey), settings.BindAddress) };
            return true;
        }
        catch (ClusterTlsException e)
        {
            Console.Error.WriteLine($"flowmesh: error: {e.Message}");
            return false;
        }
    }
}
