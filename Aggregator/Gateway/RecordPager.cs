using StackExchange.Redis;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// Pages through records kept as Redis values indexed by a sorted set scored by time
/// (closed flows, sessions), newest first, keeping those that match. A page stops at
/// the limit or after looking at <see cref="ScanBudget"/> records, whichever comes
/// first, so a rare filter costs bounded work per request: the page may then hold
/// fewer items than asked, with a cursor to go on.
/// </summary>
internal sealed class RecordPager(IDatabase db)
{
    public const int ScanBudget = 5_000;
    private const int Chunk = 200;

    /// <summary>Records that could not be parsed, skipped (and counted on <c>/metrics</c>).</summary>
    public long Malformed => Interlocked.Read(ref _malformed);

    private long _malformed;

    public async Task<(List<T> Items, Cursor? Next)> ReadAsync<T>(string index, Func<string, RedisKey> keyOf, Func<byte[], T> parse, Func<T, bool> match,
        int limit, Cursor? after, long minScore, long maxScore)
    {
        var items = new List<T>(Math.Min(limit, 256));
        var max = after is { } a ? Math.Min(a.Score, maxScore) : maxScore;
        var scanned = 0;
        long skip = 0;
        Cursor? last = null;
        while (true)
        {
            var entries = await db.SortedSetRangeByScoreWithScoresAsync(index, max, minScore, Exclude.None, Order.Descending, skip, Chunk).ConfigureAwait(false);
            skip += entries.Length;
            var ids = new List<(string Id, long Score)>(entries.Length);
            foreach (var e in entries)
            {
                var id = (string)e.Element!;
                var score = (long)e.Score;
                // Members of one score come in descending id order: skip up to the cursor.
                if (after is { } c && score == c.Score && string.CompareOrdinal(id, c.Id) >= 0)
                    continue;
                ids.Add((id, score));
            }
            if (ids.Count > 0)
            {
                var keys = new RedisKey[ids.Count];
                for (var i = 0; i < ids.Count; i++)
                    keys[i] = keyOf(ids[i].Id);
                var values = await db.StringGetAsync(keys).ConfigureAwait(false);
                for (var i = 0; i < ids.Count; i++)
                {
                    scanned++;
                    last = new Cursor(ids[i].Score, ids[i].Id);
                    if (values[i].IsNull)
                        continue; // expired between the index and the value; the index is trimmed later
                    T item;
                    try
                    {
                        item = parse((byte[])values[i]!);
                    }
                    catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException)
                    {
                        Interlocked.Increment(ref _malformed);
                        continue;
                    }
                    if (!match(item))
                        continue;
                    items.Add(item);
                    if (items.Count == limit)
                        return (items, last);
                }
            }
            if (entries.Length < Chunk)
                return (items, null);
            if (scanned >= ScanBudget)
                return (items, last);
        }
    }
}
