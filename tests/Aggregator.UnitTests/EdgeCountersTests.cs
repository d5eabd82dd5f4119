using FlowMesh.Aggregator.Sessions;
using FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.UnitTests;

/// <summary>Where a session's trace tag went, from what each side saw.</summary>
public sealed class EdgeCountersTests
{
    private static SessionView Session(bool sent, bool echoed, bool seenByServer, bool serverSide, CloseReason client = CloseReason.Normal, bool established = true) => new()
    {
        TagSent = sent,
        TagEchoed = echoed,
        TagSeenByServer = seenByServer,
        Client = new SessionSide { CloseReason = client, EstablishedUnixNs = established ? 1 : 0 },
        Server = serverSide ? new SessionSide { CloseReason = CloseReason.Normal } : null,
        ClientWorkload = "curl",
        ServerEndpoint = "10.0.0.2:80",
    };

    public static TheoryData<SessionView, TagOutcome> Cases => new()
    {
        { Session(sent: false, echoed: false, seenByServer: false, serverSide: true), TagOutcome.NotSent },
        { Session(sent: true, echoed: true, seenByServer: true, serverSide: true), TagOutcome.Survived },
        { Session(sent: true, echoed: true, seenByServer: true, serverSide: false), TagOutcome.Survived },
        { Session(sent: true, echoed: false, seenByServer: false, serverSide: true), TagOutcome.StrippedOnPath },
        { Session(sent: true, echoed: false, seenByServer: true, serverSide: true), TagOutcome.EchoStripped },
        { Session(sent: true, echoed: false, seenByServer: false, serverSide: false), TagOutcome.PeerNotInstrumented },
        { Session(sent: true, echoed: false, seenByServer: false, serverSide: false, client: CloseReason.Refused, established: false), TagOutcome.NoHandshake },
        { Session(sent: true, echoed: false, seenByServer: false, serverSide: false, client: CloseReason.Aborted, established: false), TagOutcome.NoHandshake },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_outcome_is_told_from_what_the_two_sides_saw(SessionView session, TagOutcome expected) =>
        Assert.Equal(expected, EdgeCounters.Classify(session));

    [Fact]
    public void An_edge_is_the_client_process_and_the_server_address_it_dialled() =>
        Assert.Equal("curl>10.0.0.2:80", Edges.Of(Session(sent: true, echoed: true, seenByServer: true, serverSide: true)));
}
