namespace FlowMesh.Workloads.GcServer;

/// <summary>
/// A live set of small objects, half of it replaced at each /gc: garbage to collect and
/// holes between survivors to compact, so the forced gen2 takes a measurable time
/// (milliseconds) rather than nothing.
/// </summary>
internal static class Garbage
{
    private static readonly object?[] Retained = new object?[100_000];
    private static readonly Lock ChurnLock = new();
    private static int _round;

    public static void Churn()
    {
        lock (ChurnLock)
        {
            _round++;
            for (var i = _round & 1; i < Retained.Length; i += 2)
                Retained[i] = new byte[16 + (i % 128)];
        }
    }
}
