using Microsoft.Extensions.Logging;

namespace FlowMesh.SystemTests.Harness;

/// <summary>Keeps what is logged, one line per entry, for tests that check what a user would read.</summary>
internal sealed class TestLogger : ILogger
{
    private readonly Lock _gate = new();
    private readonly List<(LogLevel Level, string Line)> _entries = [];

    public IReadOnlyList<(LogLevel Level, string Line)> Entries
    {
        get
        {
            lock (_gate)
                return [.. _entries];
        }
    }

    public IReadOnlyList<string> AtLeast(LogLevel level) => [.. Entries.Where(e => e.Level >= level).Select(e => e.Line)];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var line = formatter(state, exception) + (exception is null ? "" : $" [{exception.GetType().Name}]");
        lock (_gate)
            _entries.Add((logLevel, line));
    }
}
