using FlowMesh.Deploy.Tests.Support;

namespace FlowMesh.Deploy.Tests;

/// <summary>deploy/kubernetes parses and builds: what `kubectl apply -k` needs before any cluster sees it.</summary>
public sealed class KustomizationTests
{
    private static readonly Manifests M = Manifests.Instance;

    private static IEnumerable<string> YamlFiles =>
        Directory.EnumerateFiles(M.Directory, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);

    [Fact]
    public void Every_yaml_file_parses_and_every_object_has_apiVersion_kind_and_name()
    {
        var files = YamlFiles.ToList();
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var documents = YamlValue.LoadAll(file); // throws with line and column on a syntax error
            Assert.True(documents.Count > 0, $"{Repo.Relative(file)} holds no document");
            foreach (var document in documents)
            {
                Assert.True(document.IsMapping, $"{Repo.Relative(file)}: a document that is not a mapping");
                Assert.False(string.IsNullOrEmpty(document["apiVersion"].Text), $"{Repo.Relative(file)}: an object without apiVersion");
                Assert.False(string.IsNullOrEmpty(document["kind"].Text), $"{Repo.Relative(file)}: an object without kind");
                if (document["kind"].Text != "Kustomization")
                    Assert.False(string.IsNullOrEmpty(document.At("metadata.name").Text), $"{Repo.Relative(file)}: a {document["kind"]} without metadata.name");
            }
        }
    }

    [Fact]
    public void Every_listed_file_exists_and_every_file_is_listed()
    {
        var resources = M.Resources.ToList();
        Assert.NotEmpty(resources);
        foreach (var resource in resources)
            Assert.True(File.Exists(Path.Combine(M.Directory, resource)), $"kustomization.yaml lists {resource}, which does not exist");

        var generated = M.GeneratedConfigMaps.Values.SelectMany(files => files).ToList();
        Assert.NotEmpty(generated);
        foreach (var (key, path) in generated)
            Assert.True(File.Exists(path), $"configMapGenerator lists {Repo.Relative(path)} (key {key}), which does not exist");

        var listed = resources.Select(r => Path.GetFullPath(Path.Combine(M.Directory, r)))
            .Concat(generated.Select(g => Path.GetFullPath(g.Path)))
            .Append(Path.Combine(M.Directory, "kustomization.yaml"))
            .ToHashSet(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(M.Directory, "*", SearchOption.AllDirectories))
            Assert.True(listed.Contains(Path.GetFullPath(file)), $"{Repo.Relative(file)} is in deploy/kubernetes but the kustomization does not use it");
    }

    [Fact]
    public void The_namespace_is_created_and_no_object_names_another()
    {
        var ns = M.Kustomization["namespace"].Text;
        Assert.Equal("flowmesh", ns);
        Assert.Contains(M.Objects, o => o.Kind == "Namespace" && o.Name == ns);
        foreach (var o in M.Objects.Where(o => o.Kind != "Namespace"))
        {
            var own = o.Document.At("metadata.namespace").Text;
            Assert.True(own is null || own == ns, $"{o} pins namespace {own}; the kustomization sets it");
        }
    }

    [Fact]
    public void Objects_are_unique_by_kind_and_name()
    {
        var duplicates = M.Objects.GroupBy(o => $"{o.Kind}/{o.Name}").Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.Empty(duplicates);
    }

    [Fact]
    public void Workload_selectors_match_their_pod_templates()
    {
        foreach (var workload in M.Workloads)
        {
            var labels = workload.Document.At("spec.template.metadata.labels");
            var selector = workload.Document.At("spec.selector.matchLabels").Entries.ToList();
            Assert.True(selector.Count > 0, $"{workload} has no selector");
            foreach (var (key, value) in selector)
                Assert.True(labels[key].Text == value.Text, $"{workload}: selector {key}={value} does not match its pod template");
        }
    }

    [Fact]
    public void Every_container_requests_cpu_and_memory_and_caps_memory()
    {
        var containers = M.Workloads.SelectMany(w => w.Containers.Select(c => (w, c))).ToList();
        Assert.NotEmpty(containers);
        foreach (var (workload, container) in containers)
        {
            var resources = container["resources"];
            Assert.True(resources.At("requests.cpu").Exists, $"{workload} container {container["name"]} requests no CPU");
            Assert.True(resources.At("requests.memory").Exists, $"{workload} container {container["name"]} requests no memory");
            Assert.True(resources.At("limits.memory").Exists, $"{workload} container {container["name"]} has no memory limit");
        }
    }

    [Fact]
    public void Every_FlowMesh_image_is_listed_under_images()
    {
        var names = M.Kustomization["images"].Items.Select(i => i["name"].Text).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var used = M.Workloads.SelectMany(w => w.Containers).Select(c => RoleContainer.ImageName(c["image"].Text ?? ""))
            .Where(i => i.StartsWith("flowmesh/", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(["flowmesh/aggregator", "flowmesh/node"], used.Order(StringComparer.Ordinal));
        Assert.Equal(used.Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
    }
}
