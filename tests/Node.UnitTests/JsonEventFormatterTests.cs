using System.Net;
using System.Text;
using System.Text.Json;
using FlowMesh.Contracts.Capture;
using FlowMesh.Node.Cli;
using FlowMesh.Node.Kernel;
using FlowMesh.TestSupport.Records;

namespace FlowMesh.Node.UnitTests;

public sealed class JsonEventFormatterTests
{
    private static JsonElement Format(TcpEventRecordBuilder b, int cpu = 1)
    {
        using var output = new MemoryStream();
        using (var formatter = new JsonEventFormatter(output, MonotonicClock.Sample()))
        {
            formatter.Write(b.ToRecord(), cpu);
            formatter.Flush();
        }
        var text = Encoding.UTF8.GetString(output.ToArray());
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        return JsonDocument.Parse(text).RootElement;
    }

    [Fact]
    public void A_transition_names_states_as_the_kernel_does()
    {
        var b = TcpEventRecordBuilder.Transition(77, TcpState.SynSent, TcpState.Established, 5)
            .WithEndpoints(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 4000), new IPEndPoint(IPAddress.Parse("192.0.2.2"), 80))
            .WithTask(100, 101, "curl");
        b.Flags |= TcpEventFlags.Isn;
        b.IsnLocal = 11;
        b.IsnRemote = 22;
        var json = Format(b);

        Assert.Equal("state", json.GetProperty("event").GetString());
        Assert.Equal("TCP_SYN_SENT", json.GetProperty("oldState").GetString());
        Assert.Equal("TCP_ESTABLISHED", json.GetProperty("newState").GetString());
        Assert.Equal(77UL, json.GetProperty("cookie").GetUInt64());
        Assert.Equal("192.0.2.1", json.GetProperty("localAddr").GetString());
        Assert.Equal(80, json.GetProperty("remotePort").GetInt32());
        Assert.Equal(100u, json.GetProperty("pid").GetUInt32());
        Assert.Equal("curl", json.GetProperty("comm").GetString());
        Assert.Equal("task", json.GetProperty("process").GetString());
        Assert.Equal(11u, json.GetProperty("isnLocal").GetUInt32());
        Assert.False(json.TryGetProperty("bytesAcked", out _)); // no FM_F_STATS
        Assert.Equal(1, json.GetProperty("cpu").GetInt32());
    }

    [Fact]
    public void Optional_parts_appear_only_when_their_flag_is_set()
    {
        var b = TcpEventRecordBuilder.Transition(1, TcpState.FinWait2, TcpState.Close)
            .WithEndpoints(new IPEndPoint(IPAddress.IPv6Loopback, 1), new IPEndPoint(IPAddress.IPv6Loopback, 2));
        b.Flags = TcpEventFlags.Stats | TcpEventFlags.MidLife;
        b.BytesAcked = 5;
        b.BytesReceived = 7;
        var json = Format(b);

        Assert.Equal("ipv6", json.GetProperty("family").GetString());
        Assert.Equal(5UL, json.GetProperty("bytesAcked").GetUInt64());
        Assert.Equal(7UL, json.GetProperty("bytesReceived").GetUInt64());
        Assert.True(json.GetProperty("midLife").GetBoolean());
        Assert.False(json.TryGetProperty("pid", out _));
        Assert.False(json.TryGetProperty("isnLocal", out _));
    }
}
