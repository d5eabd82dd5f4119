using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Contracts.Cluster;

/// <summary>The one meaning of a <see cref="FlowFilter"/>, for the Node that lists live flows and the gateway that lists closed ones.</summary>
public static class FlowFilters
{
    public static bool Matches(this FlowFilter filter, FlowView flow)
    {
        if (filter.HostId.Length > 0 && flow.HostId != filter.HostId)
            return false;
        if (filter.State.Length > 0 && !StateMatches(filter.State, flow))
            return false;
        if (filter.Port != 0 && flow.LocalPort != filter.Port && flow.RemotePort != filter.Port)
            return false;
        if (filter.Address.Length > 0 && flow.LocalAddress != filter.Address && flow.RemoteAddress != filter.Address)
            return false;
        if (filter.Process.Length > 0 && flow.Comm != filter.Process)
            return false;
        if (filter.SinceUnixMs != 0 && EndUnixMs(flow) < filter.SinceUnixMs)
            return false;
        if (filter.UntilUnixMs != 0 && StartUnixMs(flow) > filter.UntilUnixMs)
            return false;
        if ((filter.Workload.Length | filter.Namespace.Length | filter.Unit.Length | filter.Pod.Length) != 0 && !WorkloadMatches(filter, flow.Workload))
            return false;
        return true;
    }

    private static bool WorkloadMatches(FlowFilter filter, Workload? w) =>
        w is not null
        && (filter.Workload.Length == 0 || Identity.WorkloadNames.Of(w) == filter.Workload)
        && (filter.Namespace.Length == 0 || w.Namespace == filter.Namespace)
        && (filter.Unit.Length == 0 || w.Unit == filter.Unit)
        && (filter.Pod.Length == 0 || w.PodUid == filter.Pod || (w.Pod.Length > 0 && (w.Pod == filter.Pod || $"{w.Namespace}/{w.Pod}" == filter.Pod)));

    /// <summary>True for the words a state filter takes: open, closed, or a TCP state with or without its TCP_ prefix.</summary>
    public static bool IsKnownState(string state) =>
        state is "open" or "closed" || TcpStateNames.TryParseKernelName("TCP_" + Normalize(state), out _);

    /// <summary>Whether a closed flow can match this state filter (no filter, "closed", or the CLOSE state in any spelling).</summary>
    public static bool CanMatchClosed(string state) =>
        state is "" or "closed" || string.Equals(Normalize(state), "CLOSE", StringComparison.OrdinalIgnoreCase);

    /// <summary>When the flow was first seen (its SYN, or the first event of a mid-life flow), Unix ms.</summary>
    public static long StartUnixMs(FlowView flow) => WallMs(flow, flow.SynNs != 0 ? flow.SynNs : flow.FirstSeenNs);

    /// <summary>When it closed, or its latest event while open, Unix ms.</summary>
    public static long EndUnixMs(FlowView flow) => WallMs(flow, flow.ClosedNs != 0 ? flow.ClosedNs : flow.LastEventNs);

    public static long WallMs(FlowView flow, ulong monotonicNs) =>
        monotonicNs == 0 ? 0 : ((long)monotonicNs + flow.WallClockOffsetNs) / 1_000_000;

    private static bool StateMatches(string state, FlowView flow) => state switch
    {
        "open" => !flow.Closed,
        "closed" => flow.Closed,
        _ => string.Equals(Normalize(state), Normalize(flow.State), StringComparison.OrdinalIgnoreCase),
    };

    private static string Normalize(string state) => state.StartsWith("TCP_", StringComparison.OrdinalIgnoreCase) ? state[4..] : state;
}
