namespace FlowMesh.Deploy.Tests.Support;

/// <summary>One Kubernetes object from a manifest file.</summary>
internal sealed record KubeObject(string File, YamlValue Document)
{
    public string? Kind => Document["kind"].Text;

    public string? Name => Document.At("metadata.name").Text;

    /// <summary>The pod template's spec of a workload (Deployment, DaemonSet, StatefulSet).</summary>
    public YamlValue PodSpec => Document.At("spec.template.spec");

    public IEnumerable<YamlValue> Containers => PodSpec["containers"].Items;

    /// <summary>Every container of the pod template, init containers included.</summary>
    public IEnumerable<YamlValue> AllContainers => PodSpec["initContainers"].Items.Concat(Containers);

    /// <summary>The labels of the workload's pods (its pod template's).</summary>
    public IReadOnlyDictionary<string, string?> PodLabels =>
        Document.At("spec.template.metadata.labels").Entries.ToDictionary(e => e.Key, e => e.Value.Text, StringComparer.Ordinal);

    public override string ToString() => $"{Kind}/{Name} ({File})";
}

/// <summary>deploy/kubernetes: the kustomization and every object of the files it lists.</summary>
internal sealed class Manifests
{
    public static readonly string[] WorkloadKinds = ["Deployment", "DaemonSet", "StatefulSet"];

    private Manifests(string directory, YamlValue kustomization, IReadOnlyList<KubeObject> objects)
    {
        Directory = directory;
        Kustomization = kustomization;
        Objects = objects;
    }

    public static Manifests Instance { get; } = Load();

    public string Directory { get; }

    public YamlValue Kustomization { get; }

    public IReadOnlyList<KubeObject> Objects { get; }

    public IEnumerable<string> Resources => Kustomization["resources"].Strings;

    public IEnumerable<KubeObject> Workloads => Objects.Where(o => WorkloadKinds.Contains(o.Kind));

    /// <summary>The configMapGenerator entries: ConfigMap name -> (key, file path) pairs.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<(string Key, string Path)>> GeneratedConfigMaps =>
        Kustomization["configMapGenerator"].Items.ToDictionary(
            g => g["name"].Text ?? "",
            g => (IReadOnlyList<(string, string)>)[.. g["files"].Strings.Select(GeneratorFile)],
            StringComparer.Ordinal);

    /// <summary>The file a workload's container reads at <paramref name="path"/>, if a generated ConfigMap is mounted there.</summary>
    public string? MountedGeneratedFile(KubeObject workload, YamlValue container, string path)
    {
        var generated = GeneratedConfigMaps;
        var file = FileAt(workload, container, path);
        if (file is not { SourceKind: "configMap" } || !generated.TryGetValue(file.SourceName, out var files))
            return null;
        return files.Where(f => f.Key == file.Key).Select(f => f.Path).FirstOrDefault();
    }

    /// <summary>The ConfigMap or Secret key a container reads at <paramref name="path"/> (keys of generated ConfigMaps are known).</summary>
    public MountedFile? FileAt(KubeObject workload, YamlValue container, string path)
    {
        var generated = GeneratedConfigMaps;
        return MountedFile.At(workload, container, path,
            (configMap, key) => !generated.TryGetValue(configMap, out var files) || files.Any(f => f.Key == key));
    }

    public IEnumerable<KubeObject> NetworkPolicies => Objects.Where(o => o.Kind == "NetworkPolicy");

    /// <summary>The NetworkPolicies whose podSelector picks the workload's pods.</summary>
    public IEnumerable<KubeObject> PoliciesFor(KubeObject workload) =>
        NetworkPolicies.Where(p => LabelSelector.Matches(p.Document.At("spec.podSelector"), workload.PodLabels));

    /// <summary>The workloads of this namespace whose pods a selector picks.</summary>
    public IEnumerable<KubeObject> WorkloadsSelectedBy(YamlValue podSelector) =>
        Workloads.Where(w => LabelSelector.Matches(podSelector, w.PodLabels));

    /// <summary>
    /// The image a container runs once the kustomization's images: entries are applied
    /// (newName, newTag, digest), as `kubectl apply -k` renders it.
    /// </summary>
    public string RenderedImage(string image)
    {
        var name = RoleContainer.ImageName(image);
        var entry = Kustomization["images"].Items.FirstOrDefault(i => i["name"].Text == name);
        if (entry is null)
            return image;
        var suffix = image[name.Length..];
        var newName = entry["newName"].Text ?? name;
        if (entry["digest"].Text is { Length: > 0 } digest)
            return $"{newName}@{digest}";
        if (entry["newTag"].Text is { Length: > 0 } tag)
            return $"{newName}:{tag}";
        return newName + suffix;
    }

    public KubeObject Single(string kind, string name) =>
        Objects.SingleOrDefault(o => o.Kind == kind && o.Name == name)
        ?? throw new InvalidOperationException($"no {kind}/{name} in deploy/kubernetes");

    /// <summary>The Services whose selector picks the workload's pods.</summary>
    public IEnumerable<KubeObject> ServicesFor(KubeObject workload)
    {
        var labels = workload.Document.At("spec.template.metadata.labels").Entries.ToDictionary(e => e.Key, e => e.Value.Text, StringComparer.Ordinal);
        return Objects.Where(o => o.Kind == "Service")
            .Where(s =>
            {
                var selector = s.Document.At("spec.selector").Entries.ToList();
                return selector.Count > 0 && selector.All(e => labels.TryGetValue(e.Key, out var v) && v == e.Value.Text);
            });
    }

    /// <summary>A container port by number or by name, as a Service's targetPort or a probe names it.</summary>
    public static int? ResolvePort(YamlValue container, YamlValue port)
    {
        if (port.Int is { } number)
            return number;
        return container["ports"].Items.FirstOrDefault(p => p["name"].Text == port.Text)?["containerPort"].Int;
    }

    private (string Key, string Path) GeneratorFile(string entry)
    {
        // "key=path" or just "path" (the key is then the file name).
        var eq = entry.IndexOf('=', StringComparison.Ordinal);
        var relative = eq >= 0 ? entry[(eq + 1)..] : entry;
        var key = eq >= 0 ? entry[..eq] : Path.GetFileName(relative);
        return (key, Path.Combine(Directory, relative));
    }

    private static Manifests Load()
    {
        var directory = Repo.PathOf("deploy", "kubernetes");
        var kustomization = YamlValue.LoadAll(Path.Combine(directory, "kustomization.yaml")).Single();
        var objects = new List<KubeObject>();
        foreach (var resource in kustomization["resources"].Strings)
        {
            var file = Path.Combine(directory, resource);
            if (!File.Exists(file))
                continue; // reported by its own test
            objects.AddRange(YamlValue.LoadAll(file).Where(d => d.IsMapping).Select(d => new KubeObject(resource, d)));
        }
        return new Manifests(directory, kustomization, objects);
    }
}
