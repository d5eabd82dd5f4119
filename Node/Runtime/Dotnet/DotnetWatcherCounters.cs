namespace FlowMesh.Node.Runtime.Dotnet;

/// <summary>
/// What one watcher has seen and lost.
/// </summary>
/// <param name="PausesSeen">Suspensions read from the stream, begin and end paired.</param>
/// <param name="PausesShed">Pauses pushed out of the bounded ring by newer ones.</param>
/// <param name="SessionsFailed">EventPipe sessions that could not start (0 or 1 for one watcher).</param>
/// <param name="EventsLost">Events the runtime dropped (its buffer full) or that never arrived, by TraceEvent's count of sequence gaps.</param>
/// <param name="UnpairedSuspensions">A suspension's begin or end without the other (lost events, or a session started mid-pause): not counted as pauses.</param>
public readonly record struct DotnetWatcherCounters(
    long PausesSeen,
    long PausesShed,
    long SessionsFailed,
    long EventsLost,
    long UnpairedSuspensions);
