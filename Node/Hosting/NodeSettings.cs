using FlowMesh.Cluster.Sessions;
using FlowMesh.Node.Actors;
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

/// <summary>Binding of the Flows section.</summary>
public static class SettingsBinding
{
    public static FlowOptions Flows(IConfiguration configuration)
    {
        var s = configuration.GetSection("Flows");
        var defaults = new FlowOptions();
        return new FlowOptions
        {
            Linger = TimeSpan.FromSeconds(s.GetValue("LingerSeconds", defaults.Linger.TotalSeconds)),
            Idle = TimeSpan.FromSeconds(s.GetValue("IdleSeconds", defaults.Idle.TotalSeconds)),
            OpenStateTtl = TimeSpan.FromHours(s.GetValue("OpenStateTtlHours", defaults.OpenStateTtl.TotalHours)),
            SessionReport = TimeSpan.FromSeconds(s.GetValue("SessionReportSeconds", defaults.SessionReport.TotalSeconds)),
            OrderingWait = TimeSpan.FromMilliseconds(s.GetValue("OrderingWaitMs", defaults.OrderingWait.TotalMilliseconds)),
            MaxLive = s.GetValue("MaxLive", DefaultMaxLive(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)),
        };
    }

    /// <summary>
    /// A quarter of the memory the process may use, at 1 KiB a flow (each measured at
    /// 600-700 B resident, `bench node`; the rest is headroom for the collector), within
    /// 10,000 and 2,000,000. The runtime's figure is the container's limit where there is
    /// one (it reads cgroup v1's memory.limit_in_bytes or v2's memory.max, whichever the
    /// host has), else the machine's memory.
    /// </summary>
    public static long DefaultMaxLive(long availableBytes) => Math.Clamp(availableBytes / 4 / 1024, 10_000, 2_000_000);

    public static HandOffOptions HandOff(IConfiguration configuration)
    {
        var s = configuration.GetSection("HandOff");
        var defaults = new HandOffOptions();
        return new HandOffOptions
        {
            AckTimeout = TimeSpan.FromSeconds(s.GetValue("AckTimeoutSeconds", defaults.AckTimeout.TotalSeconds)),
            ResendAfter = TimeSpan.FromSeconds(s.GetValue("ResendAfterSeconds", defaults.ResendAfter.TotalSeconds)),
            MaxResends = s.GetValue("MaxResends", defaults.MaxResends),
            MaxUnconfirmed = s.GetValue("MaxUnconfirmed", defaults.MaxUnconfirmed),
            SuspectFor = TimeSpan.FromSeconds(s.GetValue("SuspectForSeconds", defaults.SuspectFor.TotalSeconds)),
        };
    }
}
