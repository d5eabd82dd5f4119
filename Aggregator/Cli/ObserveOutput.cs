using System.Globalization;
using System.Text.Json;

namespace FlowMesh.Aggregator.Cli;

/// <summary>How <c>observe</c> prints a session or a flow: a table line (a header first), or the API's JSON as one line.</summary>
internal sealed class ObserveOutput(bool sessions, bool json, string? process, TextWriter output)
{
    private static readonly string[] Sides = ["client", "server"];
    private bool _header;

    public void Write(JsonElement item)
    {
        if (process is not null && !Either(item, "process", process))
            return;
        if (json)
        {
            output.WriteLine(item.GetRawText());
            output.Flush();
            return;
        }
        if (!_header)
        {
            _header = true;
            output.WriteLine(sessions
                ? $"{"TIME",-12}  {"JOIN",-9}  {"HOSTS",-21}  {"CONNECT",9}  {"DURATION",10}  {"BYTES UP/DOWN",15}  {"RESET",-6}  EDGE"
                : $"{"TIME",-12}  {"HOST",-10}  {"ROLE",-7}  {"PROCESS",-15}  {"STATE",-16}  {"BYTES OUT/IN",15}  CONNECTION");
        }
        output.WriteLine(sessions ? Session(item) : Flow(item));
        output.Flush();
    }

    private static string Session(JsonElement s)
    {
        var hosts = $"{Host(s, "client")} > {Host(s, "server")}";
        var connect = s.TryGetProperty("connectMs", out var c) && c.ValueKind == JsonValueKind.Number ? $"{c.GetDouble():0.###} ms" : "-";
        var bytes = $"{s.GetProperty("bytesClientToServer").GetUInt64()}/{s.GetProperty("bytesServerToClient").GetUInt64()}";
        return $"{Time(s.GetProperty("startUnixMs").GetInt64()),-12}  {s.GetProperty("join").GetString(),-9}  {hosts,-21}  {connect,9}  "
            + $"{s.GetProperty("durationMs").GetDouble().ToString("0.###", CultureInfo.InvariantCulture) + " ms",10}  {bytes,15}  {s.GetProperty("reset").GetString(),-6}  {s.GetProperty("edge").GetString()}";
    }

    private static string Flow(JsonElement f)
    {
        var connection = $"{f.GetProperty("localAddress").GetString()}:{f.GetProperty("localPort").GetUInt32()} > {f.GetProperty("remoteAddress").GetString()}:{f.GetProperty("remotePort").GetUInt32()}";
        var bytes = $"{f.GetProperty("bytesSent").GetUInt64()}/{f.GetProperty("bytesReceived").GetUInt64()}";
        return $"{Time(f.GetProperty("startUnixMs").GetInt64()),-12}  {f.GetProperty("host").GetString(),-10}  {f.GetProperty("role").GetString(),-7}  "
            + $"{f.GetProperty("process").GetString(),-15}  {f.GetProperty("state").GetString(),-16}  {bytes,15}  {connection}";
    }

    private static string Host(JsonElement s, string side) =>
        s.TryGetProperty(side, out var x) && x.ValueKind == JsonValueKind.Object ? x.GetProperty("host").GetString() ?? "?" : "?";

    /// <summary>A flow's own field, or either side's of a session.</summary>
    private bool Either(JsonElement item, string field, string value) => sessions
        ? Sides.Any(side => item.TryGetProperty(side, out var x) && x.ValueKind == JsonValueKind.Object && x.GetProperty(field).GetString() == value)
        : item.GetProperty(field).GetString() == value;

    private static string Time(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
}
