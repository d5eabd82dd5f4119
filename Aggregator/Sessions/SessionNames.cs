using FlowMesh.Contracts.Messages;
using Messages = FlowMesh.Contracts.Messages;

namespace FlowMesh.Aggregator.Sessions;

/// <summary>The one spelling of a session's join method and a side's close reason, for the API, the stream and OTLP alike.</summary>
public static class SessionNames
{
    public static string Join(JoinMethod join) => join switch
    {
        JoinMethod.Tag => "tag",
        JoinMethod.Isn => "isn",
        JoinMethod.Tuple => "tuple",
        _ => "one-sided",
    };

    public static string CloseReason(Messages.CloseReason reason) => reason switch
    {
        Messages.CloseReason.Open => "open",
        Messages.CloseReason.Normal => "normal",
        Messages.CloseReason.ResetSent => "reset-sent",
        Messages.CloseReason.ResetReceived => "reset-received",
        Messages.CloseReason.Refused => "refused",
        Messages.CloseReason.ConnectTimeout => "connect-timeout",
        _ => "aborted",
    };
}
