using System.Globalization;

namespace FlowMesh.Aggregator.Latency;

/// <summary>A span of time to read: the last N seconds/minutes/hours, or from/to.</summary>
public readonly record struct TimeWindow(long FromUnixMs, long ToUnixMs, string Name)
{
    public TimeSpan Length => TimeSpan.FromMilliseconds(ToUnixMs - FromUnixMs);

    /// <summary>
    /// Parses a length such as <c>30s</c>, <c>1m</c>, <c>5m</c>, <c>1h</c> or <c>24h</c>
    /// (10 s up to <paramref name="longest"/>); null with a reason otherwise.
    /// </summary>
    public static bool TryParseLength(string text, TimeSpan longest, out TimeSpan length, out string? error)
    {
        length = default;
        error = null;
        if (text.Length < 2 || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            error = $"'{text}' is not a window: write a number and a unit, e.g. 1m, 5m, 1h";
            return false;
        }
        TimeSpan? parsed = text[^1] switch
        {
            's' => TimeSpan.FromSeconds(n),
            'm' => TimeSpan.FromMinutes(n),
            'h' => TimeSpan.FromHours(n),
            _ => null,
        };
        if (parsed is null)
        {
            error = $"'{text}' has an unknown unit: use s, m or h";
            return false;
        }
        length = parsed.Value;
        if (length < TimeSpan.FromSeconds(10) || length > longest)
        {
            error = $"'{text}' is out of range: between 10s and {(int)longest.TotalHours}h";
            return false;
        }
        return true;
    }

    /// <summary>Parses a time as Unix milliseconds or an RFC 3339 date-time (2026-11-24T10:00:00Z).</summary>
    public static bool TryParseTime(string text, out long unixMs)
    {
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out unixMs))
            return true;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
        {
            unixMs = t.ToUnixTimeMilliseconds();
            return true;
        }
        return false;
    }
}
