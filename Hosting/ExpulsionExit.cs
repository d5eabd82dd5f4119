using FlowMesh.Cluster;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Hosting;

/// <summary>
/// A member the cluster has removed for good (<see cref="ClusterMember.Expelled"/>) stops
/// its process with exit status 75 (EX_TEMPFAIL), through the normal shutdown (open flows
/// are saved), so its supervisor (Kubernetes, systemd) starts it again as a new member;
/// staying up would leave a process that captures and answers nothing, and looks alive.
/// </summary>
public static class ExpulsionExit
{
    public const int ExitCode = 75;

    public static void Register(ClusterMember member, IHostApplicationLifetime lifetime, ILogger logger) =>
        member.Expelled.Register(() =>
        {
            logger.LogCritical("Out of the cluster for good: {Why}; exiting with status {Code} so that this process starts again as a new member",
                member.ExpelledBecause, ExitCode);
            Environment.ExitCode = ExitCode;
            lifetime.StopApplication();
        });
}
