using System.Globalization;
using System.Text;

namespace FlowMesh.Workloads.GcServer;

/// <summary>
/// What each path answers. Every response carries, read on the server's CLOCK_MONOTONIC
/// (ns), the interval of the handler's work (for /gc: exactly the collection) and the
/// number of collections the runtime had made at each end, so a test can tell from the
/// server alone whether a GC ran inside the interval.
/// </summary>
internal static class Routes
{
    public static byte[] Respond(string target, bool keepAlive)
    {
        var query = target.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? target : target[..query];
        return path switch
        {
            "/" => Measured(keepAlive, static () => "ok\n"),
            "/gc" => Collect(keepAlive),
            _ => Plain(404, "Not Found", "not found\n", keepAlive),
        };
    }

    public static byte[] Plain(int status, string reason, string body, bool keepAlive) =>
        Response(status, reason, body, keepAlive, "");

    private static byte[] Collect(bool keepAlive)
    {
        // Garbage and holes first, outside the measured interval, so that any collection the
        // allocations trigger is over before it starts and the compacting gen2 has work.
        Garbage.Churn();
        return Measured(keepAlive, static () =>
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            return "collected\n";
        });
    }

    private static byte[] Measured(bool keepAlive, Func<string> work)
    {
        var collectionsBefore = GC.CollectionCount(0);
        var beforeNs = MonotonicTime.NowNs();
        var body = work();
        var afterNs = MonotonicTime.NowNs();
        var collectionsAfter = GC.CollectionCount(0);
        var headers = string.Create(CultureInfo.InvariantCulture,
            $"X-Before-Mono-Ns: {beforeNs}\r\nX-After-Mono-Ns: {afterNs}\r\nX-Collections-Before: {collectionsBefore}\r\nX-Collections-After: {collectionsAfter}\r\n");
        return Response(200, "OK", body, keepAlive, headers);
    }

    private static byte[] Response(int status, string reason, string body, bool keepAlive, string headers) =>
        Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nConnection: {(keepAlive ? "keep-alive" : "close")}\r\n{headers}\r\n{body}"));
}
