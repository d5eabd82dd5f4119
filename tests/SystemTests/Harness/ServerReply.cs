namespace FlowMesh.SystemTests.Harness;

/// <summary>What the GC server said about one request, by its own clock (CLOCK_MONOTONIC ns, in its time namespace) and collection count.</summary>
internal readonly record struct ServerReply(long BeforeNs, long AfterNs, int CollectionsBefore, int CollectionsAfter, string Body)
{
    public int Collections => CollectionsAfter - CollectionsBefore;
}
