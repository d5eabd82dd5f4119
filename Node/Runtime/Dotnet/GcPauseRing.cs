namespace FlowMesh.Node.Runtime.Dotnet;

/// <summary>
/// The last N pauses of one process, oldest shed first and counted. One writer (the
/// stream's parser) and any number of readers (flows asking about their interval).
///
/// Pauses of one process never overlap and arrive in order (the runtime suspends once at
/// a time, and the stream is merged by timestamp), so both starts and ends are sorted and
/// a query walks back from the newest, which is where a flow's interval usually is.
/// A lock rather than a lock-free ring: a process pauses at most some hundreds of times a
/// second, and a query holds it for microseconds.
/// </summary>
internal sealed class GcPauseRing
{
    private readonly GcPause[] _pauses;
    private readonly Lock _lock = new();
    private long _added;

    public GcPauseRing(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _pauses = new GcPause[capacity];
    }

    public int Capacity => _pauses.Length;

    /// <summary>Pauses ever added.</summary>
    public long Added => Volatile.Read(ref _added);

    /// <summary>Pauses pushed out by newer ones.</summary>
    public long Shed => Math.Max(0, Added - _pauses.Length);

    public int Count => (int)Math.Min(Added, _pauses.Length);

    public void Add(GcPause pause)
    {
        lock (_lock)
        {
            _pauses[_added % _pauses.Length] = pause;
            Volatile.Write(ref _added, _added + 1);
        }
    }

    /// <summary>Pauses that share time with [<paramref name="startMonoNs"/>, <paramref name="endMonoNs"/>), oldest first.</summary>
    public IReadOnlyList<GcPause> Between(ulong startMonoNs, ulong endMonoNs)
    {
        List<GcPause>? found = null;
        lock (_lock)
        {
            for (var i = _added - 1; i >= 0 && i >= _added - _pauses.Length; i--)
            {
                ref readonly var pause = ref _pauses[i % _pauses.Length];
                if (pause.EndMonoNs <= startMonoNs)
                    break; // every older pause ended before too
                if (pause.OverlapNs(startMonoNs, endMonoNs) > 0)
                    (found ??= []).Add(pause);
            }
        }
        if (found is null)
            return [];
        found.Reverse();
        return found;
    }

    /// <summary>How many pauses share time with the interval and for how long in all, without a list.</summary>
    public (int Count, ulong OverlapNs) OverlapWith(ulong startMonoNs, ulong endMonoNs)
    {
        var count = 0;
        ulong total = 0;
        lock (_lock)
        {
            for (var i = _added - 1; i >= 0 && i >= _added - _pauses.Length; i--)
            {
                ref readonly var pause = ref _pauses[i % _pauses.Length];
                if (pause.EndMonoNs <= startMonoNs)
                    break;
                var overlap = pause.OverlapNs(startMonoNs, endMonoNs);
                if (overlap > 0)
                {
                    count++;
                    total += overlap;
                }
            }
        }
        return (count, total);
    }

    /// <summary>The oldest pause still kept, if any: a query before it may have lost pauses to shedding.</summary>
    public GcPause? Oldest()
    {
        lock (_lock)
        {
            return _added == 0 ? null : _pauses[Math.Max(0, _added - _pauses.Length) % _pauses.Length];
        }
    }
}
