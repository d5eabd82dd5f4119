using System.CommandLine;
using System.Globalization;

namespace FlowMesh.Hosting;

/// <summary>
/// The flags every member's <c>run</c> takes (Node and Aggregator alike), each naming
/// the setting it overrides, so the two commands read and document them the same way.
/// </summary>
public sealed class MemberOptions
{
    public Option<string?> Redis { get; } = new("--redis") { Description = "Redis endpoint for cluster state [Cluster:Redis; default 127.0.0.1:6379].", HelpName = "HOST:PORT" };
    public Option<string?> Cluster { get; } = new("--cluster") { Description = "Cluster name (and Redis key prefix) [Cluster:Name; default flowmesh].", HelpName = "NAME" };
    public Option<string?> Bind { get; } = new("--bind") { Description = "Address the actor remote listens on [Cluster:BindAddress; default 127.0.0.1].", HelpName = "ADDRESS" };
    public Option<int?> Port { get; } = new("--port") { Description = "Port the actor remote listens on; 0 = any free [Cluster:Port].", HelpName = "PORT" };
    public Option<string?> Advertise { get; } = new("--advertise") { Description = "Address other members use to reach this one [Cluster:AdvertisedAddress].", HelpName = "ADDRESS" };
    public Option<double?> MemberTtl { get; } = new("--member-ttl") { Description = "Seconds a silent member stays in the cluster [Cluster:MemberTtlSeconds; default 8].", HelpName = "SECONDS" };
    public Option<string?> Config { get; } = new("--config") { Description = "A JSON settings file (same shape as appsettings.json).", HelpName = "FILE" };
    public Option<string?> LogFormat { get; } = new("--log-format") { Description = "text or json [Logging:Format].", HelpName = "FORMAT" };

    /// <summary>Adds every member flag to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in (Option[])[Redis, Cluster, Bind, Port, Advertise, MemberTtl, Config, LogFormat])
            command.Options.Add(option);
    }

    /// <summary>Settings keys to the values given on the command line (flags not given are left out).</summary>
    public Dictionary<string, string?> Flags(ParseResult parse)
    {
        var flags = new Dictionary<string, string?>();
        void Set(string key, object? value)
        {
            if (value is not null)
                flags[key] = Convert.ToString(value, CultureInfo.InvariantCulture);
        }
        Set("Cluster:Redis", parse.GetValue(Redis));
        Set("Cluster:Name", parse.GetValue(Cluster));
        Set("Cluster:BindAddress", parse.GetValue(Bind));
        Set("Cluster:Port", parse.GetValue(Port));
        Set("Cluster:AdvertisedAddress", parse.GetValue(Advertise));
        Set("Cluster:MemberTtlSeconds", parse.GetValue(MemberTtl));
        Set("Logging:Format", parse.GetValue(LogFormat));
        return flags;
    }
}
