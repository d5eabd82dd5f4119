using Proto;
using Proto.Cluster;

namespace FlowMesh.Cluster.Placement;

/// <summary>
/// A virtual actor that answers one kind of question (<typeparamref name="TQuery"/>) about
/// the thing its cluster identity names (a flow, a session), activated only when asked, and
/// gone after <c>quiet</c> without a question: what it answers from lives elsewhere (a
/// shard's table, Redis), so it holds nothing worth keeping.
/// </summary>
public abstract class QueryActor<TQuery>(TimeSpan quiet) : IActor
{
    public Task ReceiveAsync(IContext context)
    {
        switch (context.Message)
        {
            case Started:
                Activated(context, context.ClusterIdentity()?.Identity ?? "");
                context.SetReceiveTimeout(quiet);
                break;
            case TQuery:
                return AnswerAsync(context);
            case ReceiveTimeout:
                context.Stop(context.Self);
                break;
        }
        return Task.CompletedTask;
    }

    /// <summary>Reads what the identity names; may stop the actor when it names nothing.</summary>
    protected abstract void Activated(IContext context, string identity);

    /// <summary>Answers the question in <c>context.Message</c> with <c>context.Respond</c>.</summary>
    protected abstract Task AnswerAsync(IContext context);
}
