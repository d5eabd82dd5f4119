using FlowMesh.Node.Kernel;
using Microsoft.Extensions.Configuration;

namespace FlowMesh.Node.Hosting;

/// <summary>
/// Everything `run` reads, bound from configuration: appsettings.json, then
/// FLOWMESH_* environment variables (FLOWMESH_NODE__HOSTID, FLOWMESH_CLUSTER__REDIS...),
/// then command-line flags, each overriding the one before.
/// </summary>
public sealed class NodeSettings
{
    /// <summary>This host's id in the fleet (default: the machine's host name).</summary>
    public string HostId { get; set; } = Environment.MachineName;

    /// <summary>The network namespace to capture (see capture --netns).</summary>
    public string Netns { get; set; } = "self";

    /// <summary>Only connections with these ports (empty: all).</summary>
    public List<ushort> Ports { get; set; } = [];

    /// <summary>Never connections with these ports.</summary>
    public List<ushort> ExcludePorts { get; set; } = [];

    public uint RingBytes { get; set; } = CaptureOptions.DefaultRingBytes;

    /// <summary>Write a trace tag into the SYN of every connection this host opens (experimental TCP option; off by default).</summary>
    public bool InjectTag { get; set; }

    /// <summary>
    /// A file touched every second while the Node's actors answer and it is a cluster member
    /// (empty: none). Kubernetes' liveness probe checks its age.
    /// </summary>
    public string AliveFile { get; set; } = "";

    /// <summary>The trace tag keys (see <see cref="TagKeyFile"/>; empty: tags are not authenticated).</summary>
    public string TagKeyFile { get; set; } = "";

    /// <summary>Node:Runtime: accept-queue wait, run-queue delay, Go and .NET runtimes.</summary>
    public Runtime.RuntimeSettings Runtime { get; set; } = new();

    /// <summary>How often (seconds) the node status entry in Redis is refreshed.</summary>
    public double StatusIntervalSeconds { get; set; } = 1;

    /// <summary>How often (seconds) the listeners are read for queue overflows; 0 turns it off.</summary>
    public double ListenerSeconds { get; set; } = 5;

    /// <summary>At most this many cgroups are named at once (units, containers, pods of flows' processes).</summary>
    public int MaxCgroups { get; set; } = 8192;

    /// <summary>At most this many listeners are watched at a look (the rest are counted in listeners_unwatched).</summary>
    public int MaxListeners { get; set; } = 4096;

    /// <summary>The Kubernetes section: the API that names the pods on this node.</summary>
    public FlowMesh.Kubernetes.KubernetesSettings Kubernetes { get; set; } = new();

    public static NodeSettings From(IConfiguration configuration)
    {
        var settings = new NodeSettings();
        configuration.GetSection("Node").Bind(settings);
        configuration.GetSection("Kubernetes").Bind(settings.Kubernetes);
        return settings;
    }

    public CaptureOptions ToCaptureOptions() => new()
    {
        NetNs = Netns,
        IncludePorts = Ports,
        ExcludePorts = ExcludePorts,
        RingBytes = RingBytes,
        InjectTag = InjectTag,
        Runtime = Runtime.ToCaptureOptions(),
    };
}
