using System.Diagnostics;
using FlowMesh.Cluster;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using FlowMesh.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Proto;
using Proto.Cluster;
using Xunit.Sdk;

namespace FlowMesh.SystemTests.Harness;

/// <summary>The test's own place in the cluster: a real client (hosting nothing) that asks members and flows.</summary>
internal sealed class ClusterClient : IAsyncDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    private readonly FlowMesh.Cluster.Transport.MutualTls _tls;

    private ClusterClient(ClusterMember member, FlowMesh.Cluster.Transport.MutualTls tls) => (Member, _tls) = (member, tls);

    public ClusterMember Member { get; }

    public static async Task<ClusterClient> JoinAsync(LocalRedisServer redis, string cluster)
    {
        var tls = TestTls.Load();
        return new(await ClusterMember.StartClientAsync(
            new ClusterSettings { Redis = redis.Endpoint, Name = cluster, MemberTtl = TimeSpan.FromSeconds(4), Tls = tls }, NullLoggerFactory.Instance), tls);
    }

    /// <summary>Member ids in this client's view (Proto.Cluster's member list).</summary>
    public IReadOnlySet<string> MemberIds => Member.Cluster.MemberList.GetAllMembers().Select(m => m.Id).ToHashSet();

    /// <summary>Asks a flow directly through the cluster.</summary>
    public async Task<FlowQueryResponse> QueryAsync(string hostId, ulong cookie)
    {
        using var timeout = new CancellationTokenSource(RequestTimeout);
        return await Member.Cluster.RequestAsync<FlowQueryResponse>(ClusterKinds.FlowIdentity(hostId, cookie), ClusterKinds.Flow, new FlowQuery(), timeout.Token)
            ?? new FlowQueryResponse { Found = false };
    }

    /// <summary>Asks a session (by its key) through the cluster.</summary>
    public async Task<SessionQueryResponse> QuerySessionAsync(string key)
    {
        using var timeout = new CancellationTokenSource(RequestTimeout);
        return await Member.Cluster.RequestAsync<SessionQueryResponse>(key, ClusterKinds.Session, new SessionQuery(), timeout.Token)
            ?? new SessionQueryResponse { Found = false };
    }

    /// <summary>Asks <paramref name="via"/> to query the flow through the cluster from where it runs.</summary>
    public async Task<FlowQueryResponse> QueryViaAsync(MemberProcess via, string hostId, ulong cookie)
    {
        using var timeout = new CancellationTokenSource(RequestTimeout);
        return await Member.System.Root.RequestAsync<FlowQueryResponse>(
            PID.FromAddress(via.Address, ClusterKinds.NodeControlActor), new QueryFlowRequest { HostId = hostId, Cookie = cookie }, timeout.Token);
    }

    /// <summary>A Node's status, from the Node itself.</summary>
    public async Task<NodeStatus> StatusAsync(MemberProcess node)
    {
        using var timeout = new CancellationTokenSource(RequestTimeout);
        var response = await Member.System.Root.RequestAsync<NodeStatusResponse>(
            PID.FromAddress(node.Address, ClusterKinds.NodeControlActor), new NodeStatusRequest(), timeout.Token);
        return response.Status;
    }

    public static async Task<T> WaitForAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, string what, TimeSpan deadline)
    {
        var clock = Stopwatch.StartNew();
        T last = default!;
        Exception? lastError = null;
        while (clock.Elapsed < deadline)
        {
            try
            {
                last = await probe();
                if (condition(last))
                    return last;
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException or DeadLetterException)
            {
                lastError = e; // not there yet
            }
            await Task.Delay(50);
        }
        var shown = last is System.Collections.IEnumerable items and not string ? "[" + string.Join(", ", items.Cast<object>()) + "]" : $"{last}";
        throw new XunitException($"timed out after {deadline.TotalSeconds} s waiting for {what}; last: {shown}"
            + (lastError is null ? "" : $" (the last try failed: {lastError.GetType().Name}: {lastError.Message})"));
    }

    public async ValueTask DisposeAsync()
    {
        await Member.DisposeAsync();
        _tls.Dispose();
    }
}
