using FlowMesh.Cluster.Sessions;
using FlowMesh.Node.Actors;
using Microsoft.Extensions.Configuration;

namespace FlowMesh.Node.Hosting;

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
