using System.Collections.Concurrent;
using k8s;
using k8s.Models;

namespace FlowMesh.Kubernetes;

/// <summary>
/// The Services' cluster addresses: a client that dialled a ClusterIP on one of its
/// Service's ports dialled that Service. Headless Services (no cluster address) name
/// nothing here; their pods are named by <see cref="PodAddressHistory"/>.
/// </summary>
public sealed class ServiceAddresses : IWatchSink<V1Service>
{
    private readonly ConcurrentDictionary<string, ServiceEntry> _byAddress = new(StringComparer.Ordinal);

    private sealed record ServiceEntry(string Uid, string Name, IReadOnlySet<int> Ports);

    public int Count => _byAddress.Count;

    /// <summary>namespace/name of the Service on <paramref name="address"/>:<paramref name="port"/>, if any.</summary>
    public string? At(string address, uint port) =>
        _byAddress.TryGetValue(address, out var s) && (s.Ports.Count == 0 || s.Ports.Contains((int)port)) ? s.Name : null;

    public void Replace(IReadOnlyList<V1Service> items)
    {
        _byAddress.Clear();
        foreach (var service in items)
            Add(service);
    }

    public void Apply(WatchEventType type, V1Service item)
    {
        foreach (var (address, entry) in _byAddress.Where(e => e.Value.Uid == item.Metadata?.Uid).ToList())
            _byAddress.TryRemove(address, out _);
        if (type is WatchEventType.Added or WatchEventType.Modified)
            Add(item);
    }

    private void Add(V1Service service)
    {
        var addresses = service.Spec?.ClusterIPs ?? (service.Spec?.ClusterIP is { } one ? [one] : []);
        var entry = new ServiceEntry(service.Metadata?.Uid ?? "", $"{service.Metadata?.NamespaceProperty ?? "default"}/{service.Metadata?.Name}",
            (service.Spec?.Ports ?? []).Select(p => p.Port).ToHashSet());
        foreach (var address in addresses.Where(a => a is { Length: > 0 } and not "None"))
            _byAddress[address] = entry;
    }
}
