using System.Collections.Concurrent;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;
using StackExchange.Redis;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>
/// Per edge (see <see cref="Edges"/>) counts for the service map:
/// sessions, errors, and trace tag survival (of the sessions whose client wrote a tag,
/// how many kept it, and where the others lost it). Counted once per session when it settles, kept in memory as deltas and added
/// to Redis every second (HINCRBY, so every Aggregator's counts add up), one hash per
/// edge under <c>tag-edge:{edge}</c>, listed in the set <c>tag-edges</c>.
/// </summary>
public sealed class EdgeCounters(RedisConnection redis, RedisKeys keys, TimeSpan ttl) : ISessionSubscriber
{
    /// <summary>The counts, in the order of <see cref="Fields"/>.</summary>
    private enum Count
    {
        Sessions,
        Sent,
        Survived,
        StrippedOnPath,
        EchoStripped,
        PeerNotInstrumented,
        NoHandshake,
        Errors,
    }

    /// <summary>The hash fields in Redis, one per <see cref="Count"/>.</summary>
    public static readonly string[] Fields = ["sessions", "sent", "survived", "stripped_on_path", "echo_stripped", "peer_not_instrumented", "no_handshake", "errors"];

    private readonly ConcurrentDictionary<string, long[]> _pending = new();

    /// <summary>Each edge's latest server address:port, stored beside its counts (field <c>endpoint</c>): where a workload edge's listen drops are found.</summary>
    private readonly ConcurrentDictionary<string, string> _endpoints = new();

    public static TagOutcome Classify(SessionView s)
    {
        if (!s.TagSent)
            return TagOutcome.NotSent;
        if (s.TagEchoed)
            return TagOutcome.Survived;
        if (s.Client is { CloseReason: CloseReason.Refused or CloseReason.ConnectTimeout } || (s.Client is not null && s.Client.EstablishedUnixNs == 0))
            return TagOutcome.NoHandshake;
        if (s.Server is null)
            return TagOutcome.PeerNotInstrumented;
        return s.TagSeenByServer ? TagOutcome.EchoStripped : TagOutcome.StrippedOnPath;
    }

    /// <summary>Reset by either end.</summary>
    public static bool WasReset(SessionView s) => s.Reset is "client" or "server";

    /// <summary>A session the service map counts as an error: reset by either end, refused, or never connected.</summary>
    public static bool IsError(SessionView s) =>
        WasReset(s) || s.Client is { CloseReason: CloseReason.Refused or CloseReason.ConnectTimeout };

    public void Record(SessionView session) => Record(session, Edges.Of(session));

    /// <summary>Counted once per connection: the first time it settles, however its sides arrive.</summary>
    public void Settled(in SettledSession session)
    {
        if (session.First)
            Record(session.View, session.Edge);
    }

    /// <summary>As <see cref="Record(SessionView)"/>, with the edge the caller already named.</summary>
    public void Record(SessionView session, string edge)
    {
        var outcome = Classify(session);
        var counts = _pending.GetOrAdd(edge, _ => new long[Fields.Length]);
        _endpoints[edge] = session.ServerEndpoint;
        Interlocked.Increment(ref counts[(int)Count.Sessions]);
        if (IsError(session))
            Interlocked.Increment(ref counts[(int)Count.Errors]);
        if (outcome == TagOutcome.NotSent)
            return;
        Interlocked.Increment(ref counts[(int)Count.Sent]);
        Interlocked.Increment(ref counts[(int)CountOf(outcome)]);
    }

    /// <summary>The field a sent tag's outcome is counted under (<c>survived</c>, <c>stripped_on_path</c>, ...).</summary>
    public static string OutcomeName(TagOutcome outcome) => Fields[(int)CountOf(outcome)];

    private static Count CountOf(TagOutcome outcome) => outcome switch
    {
        TagOutcome.Survived => Count.Survived,
        TagOutcome.StrippedOnPath => Count.StrippedOnPath,
        TagOutcome.EchoStripped => Count.EchoStripped,
        TagOutcome.PeerNotInstrumented => Count.PeerNotInstrumented,
        _ => Count.NoHandshake,
    };

    /// <summary>Adds what was counted since the last call to Redis; what Redis refuses is kept for the next call.</summary>
    public async Task FlushAsync()
    {
        // Arrays stay in the map (one per edge ever seen), so a Record racing with the
        // flush adds to the next delta instead of to an array the flush dropped.
        foreach (var (edge, counts) in _pending)
        {
            var deltas = new long[counts.Length];
            var any = false;
            for (var i = 0; i < counts.Length; i++)
                any |= (deltas[i] = Interlocked.Exchange(ref counts[i], 0)) != 0;
            if (!any)
                continue;
            try
            {
                var key = keys.TagEdge(edge);
                var batch = redis.Database.CreateBatch();
                var writes = new List<Task>(Fields.Length + 3);
                for (var i = 0; i < Fields.Length; i++)
                {
                    if (deltas[i] != 0)
                        writes.Add(batch.HashIncrementAsync(key, Fields[i], deltas[i]));
                }
                if (_endpoints.TryGetValue(edge, out var endpoint))
                    writes.Add(batch.HashSetAsync(key, "endpoint", endpoint));
                writes.Add(batch.KeyExpireAsync(key, ttl));
                writes.Add(batch.SetAddAsync(keys.TagEdges, edge));
                writes.Add(batch.KeyExpireAsync(keys.TagEdges, ttl));
                batch.Execute();
                await Task.WhenAll(writes).ConfigureAwait(false);
                redis.Succeeded(write: true);
            }
            catch (Exception e) when (RedisConnection.IsOutage(e))
            {
                redis.Failed(e, "add tag survival counts");
                for (var i = 0; i < deltas.Length; i++)
                    Interlocked.Add(ref counts[i], deltas[i]);
                return;
            }
        }
    }

    /// <summary>
    /// One page of edges in name order: at most <paramref name="limit"/> after
    /// <paramref name="after"/> (null: from the first) of those <paramref name="wanted"/> takes,
    /// their counts and server address read in one batch, with how many edges there are in
    /// all and whether more follow.
    /// </summary>
    public static async Task<(IReadOnlyList<(string Edge, IReadOnlyDictionary<string, long> Counts, string? Endpoint)> Page, int Total, bool More)> ReadAsync(
        IDatabase db, RedisKeys keys, string? after, int limit, Func<string, bool>? wanted = null)
    {
        var all = (await db.SetMembersAsync(keys.TagEdges).ConfigureAwait(false)).Select(e => (string)e!)
            .Where(e => wanted is null || wanted(e)).Order(StringComparer.Ordinal).ToList();
        var following = all.Where(e => after is null || string.CompareOrdinal(e, after) > 0).ToList();
        var page = following.Take(limit).ToList();
        var batch = db.CreateBatch();
        var reads = page.Select(e => batch.HashGetAllAsync(keys.TagEdge(e))).ToArray();
        batch.Execute();
        await Task.WhenAll(reads).ConfigureAwait(false);
        var result = new List<(string, IReadOnlyDictionary<string, long>, string?)>(page.Count);
        for (var i = 0; i < page.Count; i++)
        {
            var fields = reads[i].Result;
            var endpoint = fields.FirstOrDefault(x => x.Name == "endpoint").Value;
            result.Add((page[i], Fields.ToDictionary(f => f, f => (long?)fields.FirstOrDefault(x => x.Name == f).Value ?? 0), endpoint.IsNull ? null : (string)endpoint!));
        }
        return (result, all.Count, following.Count > page.Count);
    }
}
