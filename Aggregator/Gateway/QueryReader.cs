using System.Globalization;
using FlowMesh.Aggregator.Latency;
using Microsoft.AspNetCore.Http;

namespace FlowMesh.Aggregator.Gateway;

/// <summary>
/// Reads and checks one request's query parameters. The first bad one (unknown, given
/// twice, or with a value that does not parse or is out of range) becomes a 400
/// problem+json naming it; the handler returns <see cref="Problem"/> when it is set.
/// </summary>
internal sealed class QueryReader
{
    private readonly IQueryCollection _query;

    public QueryReader(HttpRequest request, params string[] known)
    {
        _query = request.Query;
        foreach (var (name, values) in _query)
        {
            if (Array.IndexOf(known, name) < 0)
            {
                Fail(name, $"unknown parameter; this endpoint takes: {(known.Length == 0 ? "none" : string.Join(", ", known))}");
                return;
            }
            if (values.Count > 1)
            {
                Fail(name, "given more than once");
                return;
            }
        }
    }

    public IResult? Problem { get; private set; }

    public static IResult BadRequest(string parameter, string detail) => Results.Problem(
        title: $"Invalid parameter '{parameter}'", detail: detail, statusCode: StatusCodes.Status400BadRequest,
        extensions: new Dictionary<string, object?> { ["parameter"] = parameter });

    public string? String(string name, int maxLength = 256)
    {
        var value = Raw(name);
        if (value is null)
            return null;
        if (value.Length == 0 || value.Length > maxLength)
            return Fail<string?>(name, $"must be 1 to {maxLength} characters", null);
        return value;
    }

    public int Int(string name, int defaultValue, int min, int max)
    {
        var value = Raw(name);
        if (value is null)
            return defaultValue;
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
            return Fail(name, $"'{value}' is not a whole number from {min} to {max}", defaultValue);
        return n;
    }

    public double? Double(string name, double min, double max)
    {
        var value = Raw(name);
        if (value is null)
            return null;
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || !double.IsFinite(d) || d < min || d > max)
            return Fail<double?>(name, $"'{value}' is not a number from {min} to {max}", null);
        return d;
    }

    public bool? Bool(string name)
    {
        var value = Raw(name);
        return value switch
        {
            null => null,
            "true" or "1" => true,
            "false" or "0" => false,
            _ => Fail<bool?>(name, $"'{value}' is not true or false", null),
        };
    }

    public string? OneOf(string name, params string[] allowed)
    {
        var value = Raw(name);
        if (value is null || Array.IndexOf(allowed, value) >= 0)
            return value;
        return Fail<string?>(name, $"'{value}' is not one of: {string.Join(", ", allowed)}", null);
    }

    public long? Time(string name)
    {
        var value = Raw(name);
        if (value is null)
            return null;
        if (!TimeWindow.TryParseTime(value, out var ms) || ms <= 0)
            return Fail<long?>(name, $"'{value}' is not a time: give Unix milliseconds or an RFC 3339 date-time such as 2026-11-24T10:00:00Z", null);
        return ms;
    }

    public uint? Port(string name)
    {
        var value = Raw(name);
        if (value is null)
            return null;
        if (!uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is 0 or > 65535)
            return Fail<uint?>(name, $"'{value}' is not a port (1-65535)", null);
        return port;
    }

    public string? Address(string name)
    {
        var value = Raw(name);
        if (value is null)
            return null;
        if (!System.Net.IPAddress.TryParse(value, out var address))
            return Fail<string?>(name, $"'{value}' is not an IPv4 or IPv6 address", null);
        return address.ToString();
    }

    /// <summary>
    /// The window to read: <c>window</c> (a length back from now, default
    /// <paramref name="defaultLength"/>) or <c>from</c> (and optionally <c>to</c>), not both.
    /// </summary>
    public TimeWindow Window(TimeSpan defaultLength, TimeSpan longest, long nowUnixMs)
    {
        var window = Raw("window");
        var from = Time("from");
        var to = Time("to");
        if (Problem is not null)
            return default;
        if (window is not null && (from is not null || to is not null))
            return Fail("window", "give either window or from/to, not both", default(TimeWindow));
        if (window is not null || from is null)
        {
            if (to is not null)
                return Fail("to", "to needs from", default(TimeWindow));
            var text = window ?? FormatLength(defaultLength);
            if (!TimeWindow.TryParseLength(text, longest, out var length, out var error))
                return Fail("window", error!, default(TimeWindow));
            return new TimeWindow(nowUnixMs - (long)length.TotalMilliseconds, nowUnixMs, text);
        }
        var end = to ?? nowUnixMs;
        if (end <= from)
            return Fail("to", "must be after from", default(TimeWindow));
        if (end - from.Value > longest.TotalMilliseconds)
            return Fail("from", $"the window from..to is longer than {(int)longest.TotalHours}h", default(TimeWindow));
        return new TimeWindow(from.Value, end, "custom");
    }

    private static string FormatLength(TimeSpan length) =>
        length.TotalHours >= 1 && length.TotalHours == Math.Floor(length.TotalHours) ? $"{length.TotalHours}h" : $"{length.TotalMinutes}m";

    /// <summary>Marks a parameter bad for a reason only the caller can judge.</summary>
    public void Reject(string name, string detail) => Fail(name, detail);

    private string? Raw(string name) => _query.TryGetValue(name, out var v) ? v.ToString() : null;

    /// <summary>The <c>cursor</c> parameter of a list read with <see cref="RecordPager"/>: the <c>next</c> of the previous page.</summary>
    public Cursor? PageCursor()
    {
        if (String("cursor", 1000) is not { } text)
            return null;
        return Cursor.TryDecode(text, out var cursor) ? cursor : Fail<Cursor?>("cursor", NotACursor, null);
    }

    public const string NotACursor = "not a cursor: pass the 'next' value of the previous page unchanged";

    private void Fail(string name, string detail) => Problem ??= BadRequest(name, detail);

    private T Fail<T>(string name, string detail, T fallback)
    {
        Fail(name, detail);
        return fallback;
    }
}
