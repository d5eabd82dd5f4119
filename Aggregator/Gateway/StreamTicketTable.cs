using System.Buffers.Text;
using System.Security.Cryptography;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// Stream tickets: short-lived, single-use stand-ins for the bearer token in the one URL
/// that needs a credential (an <c>EventSource</c> cannot send headers, and a URL ends up
/// in proxy and browser logs, where a long-lived token must not). A ticket is 32 random
/// bytes, base64url. They live in this process's memory only, so a client must open its
/// stream on the gateway that gave it the ticket.
/// <para>
/// Every ticket has the same lifetime, so issue order is expiry order: a queue in issue
/// order finds the ones to forget at its head. A ticket is remembered for one more
/// lifetime after it expires (so a late one is refused as expired, not unknown), and the
/// table holds at most <c>capacity</c>, used ones included, so its memory is bounded
/// whatever the traffic: when full of tickets still valid, <see cref="Issue"/> refuses.
/// </para>
/// </summary>
internal sealed class StreamTicketTable(TimeSpan lifetime, int capacity, TimeProvider time)
{
    private const int TicketBytes = 32;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _tickets = new(StringComparer.Ordinal);
    private readonly Queue<(string Ticket, long ExpiresUnixMs)> _byExpiry = new();
    private readonly long _lifetimeMs = (long)lifetime.TotalMilliseconds;
    private long _issued;
    private long _refused;

    public TimeSpan Lifetime { get; } = lifetime;

    /// <summary>Tickets issued since start.</summary>
    public long Issued => Interlocked.Read(ref _issued);

    /// <summary>Tickets refused because the table held <c>capacity</c> unexpired ones.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Tickets remembered now (valid, used or recently expired).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
                return _tickets.Count;
        }
    }

    /// <summary>A new ticket and when it expires; null (and counted) when the table is full of unexpired tickets, with how long until one expires.</summary>
    public (string Ticket, long ExpiresUnixMs)? Issue(out TimeSpan retryAfter)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var ticket = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(TicketBytes));
        var expires = now + _lifetimeMs;
        lock (_lock)
        {
            Forget(now - _lifetimeMs);
            if (_tickets.Count >= capacity)
                Forget(now); // expired ones go before a live one is refused
            if (_tickets.Count >= capacity)
            {
                Interlocked.Increment(ref _refused);
                retryAfter = TimeSpan.FromMilliseconds(Math.Max(0, _byExpiry.Peek().ExpiresUnixMs - now));
                return null;
            }
            _tickets.Add(ticket, new Entry(expires));
            _byExpiry.Enqueue((ticket, expires));
        }
        Interlocked.Increment(ref _issued);
        retryAfter = TimeSpan.Zero;
        return (ticket, expires);
    }

    /// <summary>Uses the ticket if it is valid; says why not otherwise.</summary>
    public TicketCheck Redeem(string ticket)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_lock)
        {
            Forget(now - _lifetimeMs);
            if (!_tickets.TryGetValue(ticket, out var entry))
                return TicketCheck.Unknown;
            if (now >= entry.ExpiresUnixMs)
                return TicketCheck.Expired;
            if (entry.Used)
                return TicketCheck.Used;
            entry.Used = true;
            return TicketCheck.Valid;
        }
    }

    /// <summary>Drops the tickets that expired before <paramref name="expiredBeforeUnixMs"/> (the queue's head first).</summary>
    private void Forget(long expiredBeforeUnixMs)
    {
        while (_byExpiry.TryPeek(out var oldest) && oldest.ExpiresUnixMs <= expiredBeforeUnixMs)
        {
            _byExpiry.Dequeue();
            _tickets.Remove(oldest.Ticket);
        }
    }

    private sealed class Entry(long expiresUnixMs)
    {
        public long ExpiresUnixMs { get; } = expiresUnixMs;
        public bool Used { get; set; }
    }
}
