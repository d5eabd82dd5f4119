namespace FlowMesh.Node.Actors;

/// <summary>The shard's part of the Node's cap on live flows (<see cref="FlowOptions.MaxLive"/>).</summary>
internal sealed partial class FlowShard
{
    /// <summary>How many shed cookies a shard remembers; when full it forgets them all and starts again.</summary>
    private const int MaxShedRemembered = 65_536;

    // Flows not followed because the Node's table was full. Their later events are dropped
    // here (counted), not taken for a passivated flow coming back, which would ask Redis
    // for saved state once per event of every shed flow.
    private readonly HashSet<ulong> _shed = [];

    /// <summary>Whether a new flow must be shed: the Node follows as many as its cap, lingering closed ones and restores under way (in every shard) included.</summary>
    private bool TableFull => services.Counters.FlowsActive + services.Counters.Restoring >= services.Options.MaxLive;

    /// <summary>Counts an event of a shed flow and says whether it was one.</summary>
    private bool IsShed(ulong cookie)
    {
        if (_shed.Count == 0 || !_shed.Contains(cookie))
            return false;
        services.Counters.EventsShed(1);
        return true;
    }

    private void Shed(ulong cookie)
    {
        if (_shed.Count >= MaxShedRemembered)
            _shed.Clear();
        _shed.Add(cookie);
        services.Counters.FlowShed();
        services.Counters.EventsShed(1);
    }
}
