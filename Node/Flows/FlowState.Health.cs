using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Messages;
using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.Flows;

/// <summary>TCP health: the kernel's latest figures, the first reset's phase and cause, the error at close.</summary>
internal sealed partial class FlowState
{
    private TcpHealthRecord _health;
    private TcpState _firstResetState;
    private uint _firstResetReason;
    private uint _closeError;

    // A flow restored from its saved view (passivation) has names, not the kernel's numbers.
    private string? _restoredDropReason;
    private string? _restoredResetReason;
    private string? _restoredError;

    private TcpHealth HealthView()
    {
        ref readonly var h = ref _health;
        var view = new TcpHealth
        {
            MinRttUs = h.MinRttUs,
            RttVarUs = h.RttVarUs,
            Cwnd = h.CongestionWindow,
            DeliveryRate = h.DeliveryRate,
            BytesRetransmitted = h.BytesRetransmitted,
            RetransmitsTimeout = h.RetransmitsTimeout,
            RetransmitsFast = h.RetransmitsFast,
            RetransmitsProbe = h.RetransmitsProbe,
            RetransmitsSyn = h.RetransmitsSyn,
            SpuriousRetransmits = h.DsackDuplicates,
            ReorderingSeen = h.ReorderingSeen,
            OutOfOrderPackets = h.OutOfOrderPackets,
            Drops = h.Drops,
            DropReason = h.Drops == 0 ? "" : h.DropReason != 0 || _restoredDropReason is null ? KernelReasonNames.Drop(h.DropReason) : _restoredDropReason,
            Error = _closeError != 0 ? ErrnoNames.Of(_closeError) : _restoredError ?? "",
        };
        if (_firstResetBy != FlowSide.None)
        {
            // A reset sent as the socket closes (SO_LINGER 0, unread data) is sent after its move
            // to CLOSE: its phase is the state it closed from.
            view.ResetPhase = TcpResetCauses.Phase(_firstResetState == TcpState.Close && _closedFrom != TcpState.Unknown ? _closedFrom : _firstResetState);
            var sentReason = _firstResetBy == FlowSide.Local
                ? (_firstResetReason != 0 || _restoredResetReason is null ? KernelReasonNames.Reset(_firstResetReason) : _restoredResetReason)
                : "";
            view.ResetReason = sentReason;
            view.ResetCause = _firstResetBy == FlowSide.Local ? TcpResetCauses.OfSent(sentReason) : TcpResetCauses.OfReceived(_firstResetState);
        }
        return view;
    }

    private void RestoreHealth(FlowView v)
    {
        if (v.Health is not { } h)
            return;
        _health = new TcpHealthRecord
        {
            MinRttUs = h.MinRttUs,
            RttVarUs = h.RttVarUs,
            CongestionWindow = h.Cwnd,
            DeliveryRate = h.DeliveryRate,
            BytesRetransmitted = h.BytesRetransmitted,
            RetransmitsTimeout = h.RetransmitsTimeout,
            RetransmitsFast = h.RetransmitsFast,
            RetransmitsProbe = h.RetransmitsProbe,
            RetransmitsSyn = h.RetransmitsSyn,
            DsackDuplicates = h.SpuriousRetransmits,
            ReorderingSeen = h.ReorderingSeen,
            OutOfOrderPackets = h.OutOfOrderPackets,
            Drops = h.Drops,
        };
        _restoredDropReason = h.DropReason.Length > 0 ? h.DropReason : null;
        _restoredResetReason = h.ResetReason.Length > 0 ? h.ResetReason : null;
        _restoredError = h.Error.Length > 0 ? h.Error : null;
        _firstResetState = TcpResetCauses.StateOfPhase(h.ResetPhase, v.Role);
    }
}
