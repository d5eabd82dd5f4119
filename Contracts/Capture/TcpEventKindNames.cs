namespace FlowMesh.Contracts.Capture;

public static class TcpEventKindNames
{
    /// <summary>The kebab-case name used in JSON output and APIs.</summary>
    public static string Name(this TcpEventKind kind) => kind switch
    {
        TcpEventKind.State => "state",
        TcpEventKind.Retransmit => "retransmit",
        TcpEventKind.ResetSent => "reset-sent",
        TcpEventKind.ResetReceived => "reset-received",
        TcpEventKind.Existing => "existing",
        TcpEventKind.TagEchoed => "tag-echoed",
        TcpEventKind.Accepted => "accepted",
        TcpEventKind.Report => "report",
        _ => "unknown",
    };

    /// <summary>The kind a <see cref="Name"/> stands for; false for a name no kind has.</summary>
    public static bool TryParse(string name, out TcpEventKind kind)
    {
        foreach (var k in Enum.GetValues<TcpEventKind>())
        {
            if (k.Name() == name)
            {
                kind = k;
                return true;
            }
        }
        kind = default;
        return false;
    }
}
