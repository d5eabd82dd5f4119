using FlowMesh.Cluster.Membership;
using FlowMesh.Contracts.Cluster;
using Proto;
using Proto.Cluster;
using Proto.Cluster.Identity;
using Proto.Diagnostics;

namespace FlowMesh.Cluster.Placement;

/// <summary>
/// Places virtual actors without a partition owner in between: an identity that
/// names a host (a flow, <c>{hostId}/{cookie}</c>) is activated on the member that
/// captures that host, so the capture path never leaves the process and a query can
/// never drag a flow away from its host; any other identity, or a flow whose host
/// has no member, goes to the member chosen by rendezvous hashing of the identity
/// over the members that host its kind.
///
/// Written here instead of using PartitionIdentityLookup with local affinity because
/// that asks a hash-chosen owner member for every new activation (tens of thousands
/// of new flows per second), and relocates actors when a query arrives first.
/// </summary>
public sealed class HostAffinityLookup(IMemberDirectory directory)
    : IIdentityLookup
{
    private static readonly TimeSpan ActivationTimeout = TimeSpan.FromSeconds(5);
    private Proto.Cluster.Cluster _cluster = null!;
    private bool _isClient;
    private PID? _activator;

    /// <summary>This member's activations (null on a client).</summary>
    public LocalActivations? Local { get; private set; }

    public Task SetupAsync(Proto.Cluster.Cluster cluster, string[] kinds, bool isClient)
    {
        _cluster = cluster;
        _isClient = isClient;
        if (!isClient)
        {
            Local = new LocalActivations(cluster);
            _activator = cluster.System.Root.SpawnNamed(Props.FromProducer(() => new ActivatorActor(Local)), ActivatorActor.Name);
        }
        return Task.CompletedTask;
    }

    public async Task<PID?> GetAsync(ClusterIdentity clusterIdentity, CancellationToken ct)
    {
        var target = Choose(clusterIdentity);
        if (target is null)
            return null;
        if (!_isClient && target.Id == _cluster.System.Id)
            return Local!.Activate(clusterIdentity);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ActivationTimeout);
        try
        {
            var response = await _cluster.System.Root.RequestAsync<ActivationResponse>(
                PID.FromAddress(target.Address, ActivatorActor.Name),
                new ActivationRequest { ClusterIdentity = clusterIdentity, RequestId = Guid.NewGuid().ToString("N") },
                timeout.Token).ConfigureAwait(false);
            return response.Failed ? null : response.Pid;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or DeadLetterException)
        {
            return null; // the cluster context retries until its own deadline
        }
    }

    public Task RemovePidAsync(ClusterIdentity clusterIdentity, PID pid, CancellationToken ct)
    {
        _cluster.PidCache.RemoveByVal(clusterIdentity, pid);
        return Task.CompletedTask;
    }

    /// <summary>Stops every local activation, letting each save what it must.</summary>
    public async Task ShutdownAsync()
    {
        if (Local is not null)
        {
            var stopping = Local.All.Select(pid => _cluster.System.Root.PoisonAsync(pid)).ToList();
            await Task.WhenAll(stopping).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        if (_activator is not null)
            await _cluster.System.Root.StopAsync(_activator).ConfigureAwait(false);
    }

    public Task<DiagnosticsEntry[]> GetDiagnostics() => Task.FromResult(new[]
    {
        new DiagnosticsEntry("HostAffinityLookup", "Local activations", Local?.Count ?? 0),
    });

    /// <summary>The member that should host <paramref name="identity"/>, or null if no member hosts its kind.</summary>
    internal Member? Choose(ClusterIdentity identity)
    {
        var members = _cluster.MemberList.GetMembersByKind(identity.Kind);
        if (members.Length == 0)
            return null;
        var host = ClusterKinds.HostOf(identity.Kind, identity.Identity);
        if (host is not null)
        {
            var registrations = directory.Registrations;
            Member? best = null;
            long bestStarted = long.MinValue;
            foreach (var m in members)
            {
                // Two members claiming one host (a restart overlapping its old self): the newest wins.
                if (registrations.TryGetValue(m.Id, out var r) && r.HostId == host && r.StartedUnixMs > bestStarted)
                    (best, bestStarted) = (m, r.StartedUnixMs);
            }
            if (best is not null)
                return best;
        }
        return Rendezvous.Choose(members, identity.Identity);
    }
}
