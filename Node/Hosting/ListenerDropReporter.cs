using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using FlowMesh.Cluster.Redis;
using FlowMesh.Contracts.Capture;
using FlowMesh.Contracts.Cluster;
using FlowMesh.Node.Kernel;
using Microsoft.Extensions.Logging;

namespace FlowMesh.Node.Hosting;

/// <summary>
/// Reads the host's listening sockets (the fm_listeners iterator; <see cref="KernelSweeper"/>
/// calls it every <c>Node:ListenerSeconds</c>) and reports what each one dropped since the last
/// look (its sk_drops): SYNs refused because its SYN queue or accept queue was full, and
/// handshake segments it discarded, such as a SYN repeated under loss. Refused attempts never
/// become flows (the client sees only its SYN go unanswered), so they are counted per listener:
/// in this Node's status (<c>listen_drops</c>), in a warning naming the listener, and in Redis
/// per server endpoint, where the gateway shows them on the edges to that endpoint. The
/// accept-queue overflows alone the kernel counts only per namespace (<see cref="HostTcpCounters"/>).
/// </summary>
internal sealed class ListenerDropReporter(
    KernelCapture kernel, RedisConnection redis, RedisKeys keys, TimeSpan interval, int maxListeners, ILogger logger)
{
    private readonly Dictionary<(uint Netns, ushort Family, ushort Port, UInt128 Address), uint> _seen = [];
    private bool _firstLook = true;
    private long _listeners;
    private long _drops;
    private long _unwatched;

    public long Listeners => Interlocked.Read(ref _listeners);
    public long Drops => Interlocked.Read(ref _drops);
    public long Unwatched => Interlocked.Read(ref _unwatched);

    /// <summary>One look: the growth of each listener's drops since the last one.</summary>
    public async Task LookAsync()
    {
        var listeners = kernel.ReadListeners();
        if (listeners.Count > maxListeners)
        {
            Interlocked.Add(ref _unwatched, listeners.Count - maxListeners);
            listeners = [.. listeners.OrderBy(l => l.Port).Take(maxListeners)];
        }
        Interlocked.Exchange(ref _listeners, listeners.Count);
        var grown = new List<(ListenerRecord Listener, long Growth)>();
        var present = new HashSet<(uint, ushort, ushort, UInt128)>();
        foreach (var l in listeners)
        {
            var id = (l.NetNsInode, l.Family, l.Port, AddressKey(l));
            present.Add(id);
            // A listener open before the first look may have dropped long ago: its count so far
            // is the baseline. One that appeared since began at zero, so all its drops are new.
            var before = _seen.TryGetValue(id, out var last) ? last : _firstLook ? l.Drops : 0u;
            _seen[id] = l.Drops;
            if (l.Drops > before)
                grown.Add((l, l.Drops - before));
        }
        foreach (var gone in _seen.Keys.Where(k => !present.Contains(k)).ToList())
            _seen.Remove(gone);
        _firstLook = false;
        if (grown.Count == 0)
            return;

        var local = LocalAddresses();
        var batch = redis.Database.CreateBatch();
        var writes = new List<Task>();
        foreach (var (l, growth) in grown)
        {
            Interlocked.Add(ref _drops, growth);
            var endpoints = Endpoints(l, local);
            logger.LogWarning("listener {Listener} dropped {Drops} segments in the last {Seconds} s (full SYN or accept queue, or handshake segments discarded; its accept queue holds {Backlog} of {MaxBacklog})",
                Endpoint(l.Address, l.Port), growth, interval.TotalSeconds, l.Backlog, l.MaxBacklog);
            foreach (var endpoint in endpoints)
                writes.Add(batch.HashIncrementAsync(keys.ListenDrops, endpoint, growth));
        }
        batch.Execute();
        try
        {
            await Task.WhenAll(writes).ConfigureAwait(false);
            redis.Succeeded(write: true);
        }
        catch (Exception e) when (RedisConnection.IsOutage(e))
        {
            redis.Failed(e, "add listener drops");
        }
    }

    private static UInt128 AddressKey(in ListenerRecord l)
    {
        Span<byte> bytes = stackalloc byte[16];
        l.Address.TryWriteBytes(bytes, out _);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    /// <summary>The server endpoints the listener answers: its address, or every address of the host for a wildcard.</summary>
    internal static List<string> Endpoints(in ListenerRecord l, IReadOnlyList<IPAddress> local)
    {
        var address = l.Address;
        if (!address.Equals(IPAddress.Any) && !address.Equals(IPAddress.IPv6Any))
            return [Endpoint(address, l.Port)];
        // A [::] listener takes IPv4 too (unless IPV6_V6ONLY, which the kernel does not expose here).
        var (port, anyFamily) = (l.Port, l.IsIPv6);
        return [.. local.Where(a => anyFamily || a.AddressFamily == AddressFamily.InterNetwork).Select(a => Endpoint(a, port))];
    }

    /// <summary>The same form as a session's server endpoint: "10.0.0.2:6379", "[fd00::2]:6379".</summary>
    internal static string Endpoint(IPAddress address, int port) =>
        address.AddressFamily == AddressFamily.InterNetworkV6
            ? $"[{address}]:{port.ToString(CultureInfo.InvariantCulture)}"
            : $"{address}:{port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The addresses of the captured namespace's interfaces (read from inside it).</summary>
    private List<IPAddress> LocalAddresses() => kernel.Namespace.RunInside(() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .Where(a => !a.IsIPv6LinkLocal)
            .ToList());
}
