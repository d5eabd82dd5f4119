using k8s;

namespace FlowMesh.Kubernetes;

/// <summary>What a <see cref="ResourceWatch{T,TList}"/> fills: the whole list after each (re)list, then each change.</summary>
public interface IWatchSink<in T>
{
    void Replace(IReadOnlyList<T> items);

    void Apply(WatchEventType type, T item);
}
