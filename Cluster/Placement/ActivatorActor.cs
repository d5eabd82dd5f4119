using Proto;
using Proto.Cluster;

namespace FlowMesh.Cluster.Placement;

/// <summary>Answers other members' requests to activate an identity here.</summary>
internal sealed class ActivatorActor(LocalActivations activations) : IActor
{
    public const string Name = "flowmesh-activator";

    public Task ReceiveAsync(IContext context)
    {
        if (context.Message is ActivationRequest request)
        {
            try
            {
                context.Respond(new ActivationResponse { Pid = activations.Activate(request.ClusterIdentity) });
            }
            catch (ArgumentException)
            {
                // A kind this member does not host.
                context.Respond(new ActivationResponse { Failed = true });
            }
        }
        return Task.CompletedTask;
    }
}
