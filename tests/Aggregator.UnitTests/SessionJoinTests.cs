using FlowMesh.Aggregator.Hosting;
using FlowMesh.Aggregator.Sessions;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.UnitTests;

/// <summary>Session keys and the join, on flow views shaped as the Nodes report them.</summary>
public sealed class SessionJoinTests
{
    private const ulong Tag = 0x1122334455667788;

    /// <summary>Two ends of one connection: 10.0.0.1:40000 on host-a dialled 10.0.0.2:80 on host-b; 100 bytes up, 2000 down.</summary>
    private static (FlowView Client, FlowView Server) Pair(ulong tag = Tag)
    {
        var client = new FlowView
        {
            HostId = "host-a", Cookie = 11, Role = FlowRole.Client, Closed = true, CloseReason = CloseReason.Normal,
            LocalAddress = "10.0.0.1", LocalPort = 40000, RemoteAddress = "10.0.0.2", RemotePort = 80,
            IsnKnown = true, IsnLocal = 0xAAAA0001, IsnRemote = 0xBBBB0002,
            TraceTag = tag, TagSent = tag != 0, TagEchoed = tag != 0,
            WallClockOffsetNs = 1_700_000_000_000_000_000, SynNs = 1_000_000, EstablishedNs = 1_300_000, ClosedNs = 51_000_000,
            HandshakeUs = 300, SrttUs = 150, BytesSent = 100, BytesReceived = 2000, Comm = "curl", Pid = 42,
        };
        var server = new FlowView
        {
            HostId = "host-b", Cookie = 22, Role = FlowRole.Server, Closed = true, CloseReason = CloseReason.Normal,
            LocalAddress = "10.0.0.2", LocalPort = 80, RemoteAddress = "10.0.0.1", RemotePort = 40000,
            IsnKnown = true, IsnLocal = 0xBBBB0002, IsnRemote = 0xAAAA0001,
            TraceTag = tag, TagReceived = tag != 0,
            WallClockOffsetNs = 1_700_000_000_000_000_000, SynNs = 1_200_000, EstablishedNs = 1_200_000, ClosedNs = 50_000_000,
            HandshakeUs = 140, SrttUs = 160, BytesSent = 2000, BytesReceived = 100, Comm = "nginx", Pid = 7,
        };
        return (client, server);
    }

    [Fact]
    public void Both_ends_of_a_tagged_connection_share_the_tag_key()
    {
        var (client, server) = Pair();
        Assert.Equal("tag:1122334455667788", SessionKeys.For(client));
        Assert.Equal(SessionKeys.For(client), SessionKeys.For(server));
    }

    [Fact]
    public void A_tag_the_peer_never_confirmed_is_not_a_key_and_the_ISN_pair_is_used()
    {
        var (client, server) = Pair();
        client.TagEchoed = false;
        server.TagReceived = false;
        Assert.Equal("isn:aaaa0001-bbbb0002", SessionKeys.For(client));
        Assert.Equal(SessionKeys.For(client), SessionKeys.For(server));
    }

    [Fact]
    public void Without_ISNs_the_endpoints_are_the_key_whatever_role_each_end_knows()
    {
        var (client, server) = Pair(tag: 0);
        client.IsnKnown = false;
        server.IsnKnown = false;
        server.Role = FlowRole.Unknown; // seen from mid-life on host-b
        Assert.Equal("tuple:10.0.0.1:40000|10.0.0.2:80", SessionKeys.For(client));
        Assert.Equal(SessionKeys.For(client), SessionKeys.For(server));
        Assert.Equal(JoinMethod.Tuple, SessionKeys.MethodOf(SessionKeys.For(server)));
    }

    [Fact]
    public void A_joined_session_shows_both_sides_latencies_and_bytes()
    {
        var (client, server) = Pair();
        var s = SessionJoin.Build(SessionKeys.For(client), [server, client]);

        Assert.Equal(JoinMethod.Tag, s.Join);
        Assert.Equal(("host-a", "host-b"), (s.ClientHost, s.ServerHost));
        Assert.Equal((11UL, 22UL), (s.Client.Cookie, s.Server.Cookie));
        Assert.Equal((0.3, 0.14), (s.ConnectMs, s.ServerHandshakeMs));
        Assert.Equal((0.15, 0.16), (s.ClientRttMs, s.ServerRttMs));
        Assert.Equal((50.0, 48.8), (s.ClientDurationMs, s.ServerDurationMs));
        Assert.Equal((100UL, 2000UL), (s.BytesClientToServer, s.BytesServerToClient));
        Assert.False(s.BytesMismatch);
        Assert.Equal("none", s.Reset);
        Assert.True(s.Complete && s.Closed && !s.Ambiguous);
        Assert.Equal(("curl", "10.0.0.2:80"), (s.ClientWorkload, s.ServerEndpoint));
        Assert.True(s.TagSent && s.TagEchoed && s.TagSeenByServer);
        Assert.Equal(1_700_000_000_001L, s.StartUnixMs);
        Assert.Equal(1_700_000_000_051L, s.EndUnixMs);
    }

    [Fact]
    public void Bytes_the_two_hosts_disagree_on_are_flagged()
    {
        var (client, server) = Pair();
        server.BytesReceived = 90;
        var s = SessionJoin.Build(SessionKeys.For(client), [client, server]);
        Assert.True(s.BytesMismatch);
        Assert.Equal(100UL, s.BytesClientToServer); // the sender's count
    }

    [Fact]
    public void Events_lost_on_either_host_make_the_session_incomplete()
    {
        var (client, server) = Pair();
        server.EventsLost = true;
        Assert.False(SessionJoin.Build(SessionKeys.For(client), [client, server]).Complete);
    }

    [Theory]
    [InlineData(CloseReason.ResetReceived, CloseReason.ResetSent, "server")]
    [InlineData(CloseReason.ResetSent, CloseReason.ResetReceived, "client")]
    [InlineData(CloseReason.Normal, CloseReason.ResetSent, "server")] // the client closed before the RST arrived
    [InlineData(CloseReason.Normal, CloseReason.Normal, "none")]
    public void The_side_that_reset_is_named(CloseReason clientReason, CloseReason serverReason, string expected)
    {
        var (client, server) = Pair();
        (client.CloseReason, server.CloseReason) = (clientReason, serverReason);
        Assert.Equal(expected, SessionJoin.Build(SessionKeys.For(client), [client, server]).Reset);
    }

    [Fact]
    public void A_refused_connect_is_one_sided_and_reset_by_the_server()
    {
        var (client, _) = Pair();
        client.CloseReason = CloseReason.Refused;
        client.TagEchoed = false;
        var s = SessionJoin.Build(SessionKeys.For(client), [client]);
        Assert.Equal(JoinMethod.OneSided, s.Join);
        Assert.Null(s.Server);
        Assert.Equal(("server", "10.0.0.2:80", ""), (s.Reset, s.ServerEndpoint, s.ServerHost));
        Assert.True(s.TagSent && !s.TagEchoed);
    }

    [Fact]
    public void Only_the_server_side_seen_gives_its_listening_endpoint()
    {
        var (_, server) = Pair();
        var s = SessionJoin.Build(SessionKeys.For(server), [server]);
        Assert.Equal(JoinMethod.OneSided, s.Join);
        Assert.Null(s.Client);
        Assert.Equal(("10.0.0.2:80", 100UL, 2000UL), (s.ServerEndpoint, s.BytesClientToServer, s.BytesServerToClient));
    }

    [Fact]
    public void Two_ends_first_seen_mid_life_take_the_lower_port_for_the_server()
    {
        var (client, server) = Pair(tag: 0);
        foreach (var f in new[] { client, server })
        {
            (f.Role, f.MidLife, f.IsnKnown) = (FlowRole.Unknown, true, false);
        }
        var s = SessionJoin.Build(SessionKeys.For(client), [client, server]);
        Assert.Equal(JoinMethod.Tuple, s.Join);
        Assert.Equal(("host-a", "host-b"), (s.ClientHost, s.ServerHost));
        Assert.StartsWith("tuple:10.0.0.1:40000|10.0.0.2:80@", s.Id, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tuple_reused_by_a_later_connection_is_flagged_ambiguous_and_the_closest_pair_kept()
    {
        var (client, server) = Pair(tag: 0);
        client.IsnKnown = server.IsnKnown = false;
        var later = client.Clone();
        (later.Cookie, later.SynNs) = (33, 900_000_000);
        var s = SessionJoin.Build(SessionKeys.For(client), [later, server, client]);
        Assert.True(s.Ambiguous);
        Assert.Equal((11UL, 22UL), (s.Client.Cookie, s.Server.Cookie));
    }

    [Fact]
    public void An_open_side_leaves_the_session_open_and_its_bytes_unchecked()
    {
        var (client, server) = Pair();
        (server.Closed, server.CloseReason, server.BytesReceived) = (false, CloseReason.Open, 60);
        var s = SessionJoin.Build(SessionKeys.For(client), [client, server]);
        Assert.False(s.Closed);
        Assert.False(s.BytesMismatch);
    }

    [Theory]
    [InlineData("http://collector:4318", "http://collector:4318/v1/traces")]
    [InlineData("http://collector:4318/", "http://collector:4318/v1/traces")]
    [InlineData("https://otel.example/custom/path", "https://otel.example/custom/path")]
    public void An_OTLP_endpoint_given_as_a_base_address_gets_the_traces_path(string given, string used) =>
        Assert.Equal(new Uri(used), AggregatorSettings.TracesEndpoint(given));

    [Theory]
    [InlineData("collector:4318")]
    [InlineData("grpc://collector:4317")]
    public void An_OTLP_endpoint_that_is_not_an_http_URL_is_refused(string given) =>
        Assert.Contains("not an http(s) URL", Assert.Throws<ArgumentException>(() => AggregatorSettings.TracesEndpoint(given)).Message, StringComparison.Ordinal);
    [Fact]
    public void A_flow_keeps_the_key_of_its_first_hand_off_whatever_it_learns_later()
    {
        var (client, _) = Pair(tag: 0);
        client.SessionKey = "tuple:10.0.0.1:40000|10.0.0.2:80"; // handed over before its ISNs were known
        Assert.Equal("tuple:10.0.0.1:40000|10.0.0.2:80", SessionKeys.For(client));
        client.SessionKey = "";
        Assert.Equal("isn:aaaa0001-bbbb0002", SessionKeys.For(client));
    }

    [Fact]
    public void A_tuple_session_keeps_its_first_id_when_a_side_with_an_earlier_start_arrives()
    {
        var (client, server) = Pair(tag: 0);
        foreach (var f in new[] { client, server })
        {
            (f.IsnKnown, f.MidLife, f.Role) = (false, true, FlowRole.Unknown);
        }
        var key = SessionKeys.For(server);
        Assert.Equal(SessionKeys.For(client), key);
        var first = SessionJoin.Build(key, [server]);
        client.SynNs = 0;
        client.FirstSeenNs = 500_000; // starts before the server side
        var joined = SessionJoin.Build(key, [server, client], first.Id);
        Assert.Equal(first.Id, joined.Id);
        Assert.NotEqual(SessionJoin.SessionId(key, [server, client]), first.Id); // what it would have become
        Assert.Equal(JoinMethod.Tuple, joined.Join);
    }

    [Fact]
    public void A_mid_life_side_joined_to_an_ISN_session_by_its_tuple_says_so()
    {
        var (client, server) = Pair(tag: 0);
        (server.IsnKnown, server.MidLife, server.Role) = (false, true, FlowRole.Unknown);
        Assert.True(SessionKeys.KnownOnlyByTuple(server));
        Assert.False(SessionKeys.KnownOnlyByTuple(client));
        Assert.Equal(SessionKeys.TupleKey(client), SessionKeys.For(server));

        var key = SessionKeys.For(client);
        server.SessionKey = key;
        server.JoinedByTuple = true;
        var view = SessionJoin.Build(key, [client, server]);
        Assert.Equal((key, JoinMethod.Tuple), (view.Id, view.Join));
        Assert.Equal(("host-a", "host-b"), (view.ClientHost, view.ServerHost));
    }

    [Fact]
    public void A_stored_session_covers_a_resent_side_it_holds_closed_and_not_one_it_lacks_or_holds_open()
    {
        var (client, server) = Pair();
        var key = SessionKeys.For(client);
        var joined = SessionJoin.Build(key, [client, server]);
        var clientOnly = SessionJoin.Build(key, [client]);
        var serverOpen = server.Clone();
        serverOpen.Closed = false;
        var withServerOpen = SessionJoin.Build(key, [client, serverOpen]);

        Assert.True(SessionJoin.Covers(joined, clientOnly));        // only the confirmation was lost
        Assert.True(SessionJoin.Covers(joined, joined));
        Assert.False(SessionJoin.Covers(clientOnly, joined));       // the stored one lacks the server
        Assert.False(SessionJoin.Covers(withServerOpen, joined));   // it holds the server still open
        Assert.True(SessionJoin.Covers(joined, withServerOpen));
    }
}
