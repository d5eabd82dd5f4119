using FlowMesh.Contracts.Capture;

namespace FlowMesh.Node.Flows;

/// <summary>Who the connection is: its addresses and ports, and the process behind it, learned from the records that carry them.</summary>
internal sealed partial class FlowState
{
    private void LearnIdentity(in TcpEventRecord r)
    {
        if (Family == 0)
        {
            Family = r.Family;
            NetNs = r.NetNsInode;
            RemotePort = r.RemotePort;
            _localAddress = r.LocalAddress;
            _remoteAddress = r.RemoteAddress;
        }
        // connect() reports port 0 until the kernel picks one just after SYN_SENT.
        if (LocalPort == 0 && r.LocalPort != 0)
        {
            LocalPort = r.LocalPort;
            _localAddress = r.LocalAddress;
        }
        if (RemotePort == 0 && r.RemotePort != 0)
        {
            RemotePort = r.RemotePort;
            _remoteAddress = r.RemoteAddress;
        }
    }

    private void LearnProcess(in TcpEventRecord r)
    {
        // The task that made a transition in a syscall is the best source; the owner
        // remembered by the kernel fills in until one is seen.
        var fromTask = r.Has(TcpEventFlags.Task);
        if (!r.HasProcess || (_processFromTask && !fromTask) || (_pid != 0 && !fromTask))
            return;
        _pid = r.Tgid;
        _comm = r.Comm;
        _cgroupId = r.CgroupId;
        _processFromTask = fromTask;
    }
}
