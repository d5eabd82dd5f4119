using Proto;

namespace FlowMesh.Cluster.Placement;

/// <summary>How a virtual actor activated on demand (a flow, a session) asks the shard that holds its state.</summary>
public static class ShardQuestion
{
    /// <summary>The shard's answer, or null when it is too busy to answer in time (the asker then reads Redis).</summary>
    public static async Task<T?> AskAsync<T>(IContext context, PID shard, object question, TimeSpan timeout) where T : class
    {
        try
        {
            return await context.RequestAsync<T>(shard, question, timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }
}
