using FlowMesh.Aggregator.Gateway;
using FlowMesh.Aggregator.Latency;

namespace FlowMesh.Aggregator.UnitTests;

public sealed class TimeWindowTests
{
    private static readonly TimeSpan Day = TimeSpan.FromHours(24);

    [Theory]
    [InlineData("1m", 60)]
    [InlineData("5m", 300)]
    [InlineData("1h", 3600)]
    [InlineData("30s", 30)]
    [InlineData("24h", 86400)]
    public void Window_lengths_parse(string text, int seconds)
    {
        Assert.True(TimeWindow.TryParseLength(text, Day, out var length, out var error), error);
        Assert.Equal(TimeSpan.FromSeconds(seconds), length);
    }

    [Theory]
    [InlineData("")]
    [InlineData("m")]
    [InlineData("5")]
    [InlineData("5x")]
    [InlineData("-5m")]
    [InlineData("5s")]
    [InlineData("25h")]
    [InlineData("1.5m")]
    public void Bad_window_lengths_say_why(string text)
    {
        Assert.False(TimeWindow.TryParseLength(text, Day, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void Times_parse_as_unix_milliseconds_or_rfc3339()
    {
        Assert.True(TimeWindow.TryParseTime("1795557967092", out var ms));
        Assert.Equal(1795557967092, ms);
        Assert.True(TimeWindow.TryParseTime("2026-11-24T10:00:00Z", out ms));
        Assert.Equal(new DateTimeOffset(2026, 11, 24, 10, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), ms);
        Assert.False(TimeWindow.TryParseTime("yesterday", out _));
    }

    [Fact]
    public void Cursors_survive_the_round_trip_and_garbage_is_refused()
    {
        var cursor = new Cursor(1795557967092, "tag:00ff/with|bar");
        Assert.True(Cursor.TryDecode(cursor.Encode(), out var back));
        Assert.Equal(cursor, back);
        Assert.False(Cursor.TryDecode("not a cursor!", out _));
        Assert.False(Cursor.TryDecode("", out _));
    }
}
