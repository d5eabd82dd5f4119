using FlowMesh.Aggregator.Sessions;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// Which sessions a list or a stream asks for; null fields match everything. <c>edge</c> is
/// the workload edge or the address edge. <c>container</c> (the full id or its first 12
/// digits) and <c>pod</c> (UID, name or namespace/name) match a session either of whose
/// sides ran in that workload; <c>unit</c>, <c>workload</c> and <c>namespace</c> match
/// either end (<see cref="EdgeFilter"/>), so an end named from address ownership counts too.
/// </summary>
internal sealed record SessionFilter(string? Edge, string? Join, string? Reset, double? MinDurationMs, bool? Incomplete, bool? Closed, string? Host, long? Since, long? Until,
    string? Container = null, string? Pod = null, EdgeFilter? Ends = null)
{
    public static readonly string[] Parameters = ["edge", "join", "reset", "minDurationMs", "incomplete", "closed", "host", "container", "pod", .. EdgeFilter.Parameters];

    public static SessionFilter Read(QueryReader q) => new(
        q.String("edge", 600), q.OneOf("join", "tag", "isn", "tuple", "one-sided"), q.OneOf("reset", "none", "client", "server", "any"),
        q.Double("minDurationMs", 0, 1e12), q.Bool("incomplete"), q.Bool("closed"), q.String("host"), null, null,
        q.String("container", 64), q.String("pod", 320), EdgeFilter.Read(q));

    private bool MatchesWorkload(Workload? w) =>
        w is not null
        && (Container is null || (Container.Length >= 12 && w.ContainerId.StartsWith(Container, StringComparison.Ordinal)))
        && (Pod is null || w.PodUid == Pod || (w.Pod.Length > 0 && (w.Pod == Pod || $"{w.Namespace}/{w.Pod}" == Pod)));

    public bool Matches(SessionView s)
    {
        if (Edge is not null && Edges.Of(s) != Edge && Edges.AddressOf(s) != Edge)
            return false;
        if (Ends is { IsEmpty: false } ends && !ends.Matches(s))
            return false;
        if (Join is not null && SessionNames.Join(s.Join) != Join)
            return false;
        if (Reset is not null)
        {
            var reset = s.Reset.Length == 0 ? "none" : s.Reset;
            if (Reset == "any" ? reset == "none" : reset != Reset)
                return false;
        }
        if (MinDurationMs is { } min && SessionJson.DurationMsOf(s) < min)
            return false;
        if (Incomplete is { } incomplete && s.Complete == incomplete)
            return false;
        if (Closed is { } closed && s.Closed != closed)
            return false;
        if (Host is not null && s.ClientHost != Host && s.ServerHost != Host)
            return false;
        if ((Container ?? Pod) is not null && !MatchesWorkload(s.Client?.Workload) && !MatchesWorkload(s.Server?.Workload))
            return false;
        if (Since is { } since && s.EndUnixMs < since)
            return false;
        if (Until is { } until && s.StartUnixMs > until)
            return false;
        return true;
    }
}
