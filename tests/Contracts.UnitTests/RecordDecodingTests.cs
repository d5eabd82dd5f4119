using System.Net;
using FlowMesh.Contracts.Capture;
using FlowMesh.TestSupport.Records;

namespace FlowMesh.Contracts.UnitTests;

public sealed class RecordDecodingTests
{
    private static byte[] Bytes(TcpEventRecordBuilder b)
    {
        var bytes = new byte[TcpEventRecord.Size];
        b.WriteTo(bytes);
        return bytes;
    }

    private static TcpEventRecordBuilder Valid() =>
        TcpEventRecordBuilder.Transition(42, TcpState.SynSent, TcpState.Established, 1000)
            .WithEndpoints(new IPEndPoint(IPAddress.Parse("10.1.2.3"), 40000), new IPEndPoint(IPAddress.Parse("10.9.8.7"), 443));

    [Fact]
    public void A_valid_record_decodes_with_its_endpoints()
    {
        Assert.Equal(RecordDecodeResult.Ok, TcpEventRecord.TryRead(Bytes(Valid()), out var r));
        Assert.Equal(42UL, r.SocketCookie);
        Assert.Equal(IPAddress.Parse("10.1.2.3"), r.LocalIPAddress);
        Assert.Equal(IPAddress.Parse("10.9.8.7"), r.RemoteIPAddress);
        Assert.Equal((40000, 443), (r.LocalPort, r.RemotePort));
        Assert.False(r.IsIPv6);
    }

    [Fact]
    public void IPv6_addresses_decode()
    {
        var b = Valid().WithEndpoints(new IPEndPoint(IPAddress.IPv6Loopback, 1), new IPEndPoint(IPAddress.Parse("fe80::1"), 2));
        Assert.Equal(RecordDecodeResult.Ok, TcpEventRecord.TryRead(Bytes(b), out var r));
        Assert.True(r.IsIPv6);
        Assert.Equal(IPAddress.IPv6Loopback, r.LocalIPAddress);
        Assert.Equal(IPAddress.Parse("fe80::1"), r.RemoteIPAddress);
    }

    [Fact]
    public void Comm_stops_at_the_first_nul()
    {
        var b = Valid().WithTask(7, 8, "nginx");
        Assert.Equal(RecordDecodeResult.Ok, TcpEventRecord.TryRead(Bytes(b), out var r));
        Assert.Equal("nginx", r.CommText);
        Assert.True(r.HasProcess);
    }

    public static TheoryData<string, int, RecordDecodeResult> Malformed => new()
    {
        { "empty", 0, RecordDecodeResult.Truncated },
        { "one byte", 1, RecordDecodeResult.Truncated },
        { "header only", 8, RecordDecodeResult.Truncated },
        { "one byte short", TcpEventRecord.Size - 1, RecordDecodeResult.Truncated },
        { "one byte long", TcpEventRecord.Size + 1, RecordDecodeResult.WrongSize },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Records_of_the_wrong_length_are_rejected(string why, int length, RecordDecodeResult expected)
    {
        var bytes = new byte[Math.Max(length, TcpEventRecord.Size)];
        Valid().WriteTo(bytes);
        Assert.True(expected == TcpEventRecord.TryRead(bytes.AsSpan(0, length), out _), why);
    }

    [Fact]
    public void Unknown_version_is_rejected()
    {
        var b = Valid();
        b.Version = TcpEventRecord.CurrentVersion + 1;
        Assert.Equal(RecordDecodeResult.UnsupportedVersion, TcpEventRecord.TryRead(Bytes(b), out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(255)]
    public void Unknown_kind_is_rejected(byte kind)
    {
        var b = Valid();
        b.Kind = (TcpEventKind)kind;
        Assert.Equal(RecordDecodeResult.UnknownKind, TcpEventRecord.TryRead(Bytes(b), out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(17)]
    public void Unknown_family_is_rejected(byte family)
    {
        var b = Valid();
        b.Family = family;
        Assert.Equal(RecordDecodeResult.UnknownFamily, TcpEventRecord.TryRead(Bytes(b), out _));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    [InlineData(14, 1)]
    [InlineData(1, 200)]
    public void Unknown_states_are_rejected(byte oldState, byte newState)
    {
        var b = Valid();
        b.OldState = (TcpState)oldState;
        b.NewState = (TcpState)newState;
        Assert.Equal(RecordDecodeResult.UnknownState, TcpEventRecord.TryRead(Bytes(b), out _));
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(1234);
        var buffer = new byte[TcpEventRecord.Size + 16];
        for (var i = 0; i < 10_000; i++)
        {
            random.NextBytes(buffer);
            var length = random.Next(buffer.Length + 1);
            var result = TcpEventRecord.TryRead(buffer.AsSpan(0, length), out _);
            Assert.True(Enum.IsDefined(result));
            // Random bytes are almost never a valid version-2 record, and a short span never decodes.
            if (length < TcpEventRecord.Size)
                Assert.NotEqual(RecordDecodeResult.Ok, result);
        }
    }
}
