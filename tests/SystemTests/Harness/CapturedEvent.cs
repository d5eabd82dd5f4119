using System.Text.Json;

namespace FlowMesh.SystemTests.Harness;

/// <summary>One line of `capture --json`, as a user's script would read it.</summary>
internal sealed record CapturedEvent(
    string Event,
    string OldState,
    string NewState,
    ulong Cookie,
    string LocalAddr,
    int LocalPort,
    string RemoteAddr,
    int RemotePort,
    uint Netns,
    int? Pid,
    string? Comm,
    string? Process,
    bool MidLife,
    bool NoSocket,
    uint? IsnLocal,
    uint? IsnRemote,
    ulong? BytesAcked,
    ulong? BytesReceived,
    uint? TotalRetrans,
    string Family,
    ulong MonotonicNs,
    string? Tag,
    bool TagSent,
    bool TagEchoed,
    bool TagReceived,
    JsonElement? Health,
    string? Reason,
    string? SocketError)
{
    /// <summary>"SYN_SENT->ESTABLISHED" for transitions, "reset-sent@CLOSE" for other events.</summary>
    public string Step => Event == "state"
        ? $"{OldState[4..]}->{NewState[4..]}"
        : $"{Event}@{NewState[4..]}";

    public bool IsFinalClose => Event == "state" && NewState == "TCP_CLOSE";

    public static CapturedEvent Parse(string line)
    {
        var e = JsonDocument.Parse(line).RootElement;
        return new CapturedEvent(
            e.GetProperty("event").GetString()!,
            e.GetProperty("oldState").GetString()!,
            e.GetProperty("newState").GetString()!,
            e.GetProperty("cookie").GetUInt64(),
            e.GetProperty("localAddr").GetString()!,
            e.GetProperty("localPort").GetInt32(),
            e.GetProperty("remoteAddr").GetString()!,
            e.GetProperty("remotePort").GetInt32(),
            e.GetProperty("netns").GetUInt32(),
            Optional(e, "pid", v => v.GetInt32()),
            e.TryGetProperty("comm", out var comm) ? comm.GetString() : null,
            e.TryGetProperty("process", out var process) ? process.GetString() : null,
            e.GetProperty("midLife").GetBoolean(),
            e.TryGetProperty("noSocket", out var noSocket) && noSocket.GetBoolean(),
            Optional(e, "isnLocal", v => v.GetUInt32()),
            Optional(e, "isnRemote", v => v.GetUInt32()),
            Optional(e, "bytesAcked", v => v.GetUInt64()),
            Optional(e, "bytesReceived", v => v.GetUInt64()),
            Optional(e, "totalRetrans", v => v.GetUInt32()),
            e.GetProperty("family").GetString()!,
            e.GetProperty("monotonicNs").GetUInt64(),
            e.TryGetProperty("tag", out var tag) ? tag.GetString() : null,
            e.TryGetProperty("tagSent", out var sent) && sent.GetBoolean(),
            e.TryGetProperty("tagEchoed", out var echoed) && echoed.GetBoolean(),
            e.TryGetProperty("tagReceived", out var received) && received.GetBoolean(),
            e.TryGetProperty("health", out var health) ? health.Clone() : null,
            e.TryGetProperty("reason", out var reason) ? reason.GetString() : null,
            e.TryGetProperty("socketError", out var error) ? error.GetString() : null);
    }

    private static T? Optional<T>(JsonElement e, string name, Func<JsonElement, T> read) where T : struct =>
        e.TryGetProperty(name, out var v) ? read(v) : null;
}
