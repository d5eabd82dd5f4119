namespace FlowMesh.Deploy.Tests.Support;

/// <summary>A container of a workload that runs a FlowMesh program, with the settings that program would see.</summary>
internal sealed record RoleContainer(KubeObject Workload, YamlValue Container, Role Role, string? ConfigFile, Settings Settings)
{
    public override string ToString() => $"{Workload.Kind}/{Workload.Name} container {Container["name"].Text}";

    /// <summary>Every container of deploy/kubernetes whose image is one of FlowMesh's (by its Dockerfile).</summary>
    public static IReadOnlyList<RoleContainer> All { get; } = Find(Manifests.Instance);

    public static RoleContainer Of(Role role) => All.Single(c => c.Role == role);

    /// <summary>flowmesh/node for flowmesh/node:1.0, registry:5000/flowmesh/node@sha256:...</summary>
    public static string ImageName(string image)
    {
        var at = image.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
            image = image[..at];
        var colon = image.LastIndexOf(':');
        return colon > image.LastIndexOf('/') ? image[..colon] : image;
    }

    /// <summary>The role an image runs: the Dockerfile that names it, and the assembly its ENTRYPOINT starts.</summary>
    public static Role? RoleOfImage(string image)
    {
        var name = ImageName(image);
        var dockerfile = Dockerfile.All.FirstOrDefault(d => d.Image == name);
        return dockerfile?.EntrypointAssembly is { } assembly ? Role.ByAssembly(assembly) : null;
    }

    /// <summary>An env var's value: its literal, or a marker naming where Kubernetes takes it from.</summary>
    public static string EnvValue(YamlValue env)
    {
        if (env["value"].Exists)
            return env["value"].Text ?? "";
        var from = env["valueFrom"];
        if (from["fieldRef"].Exists)
            return $"$(fieldRef:{from.At("fieldRef.fieldPath").Text})";
        if (from["secretKeyRef"].Exists)
            return $"$(secret:{from.At("secretKeyRef.name").Text}/{from.At("secretKeyRef.key").Text})";
        return "$(valueFrom)";
    }

    private static List<RoleContainer> Find(Manifests manifests)
    {
        var found = new List<RoleContainer>();
        foreach (var workload in manifests.Workloads)
        {
            foreach (var container in workload.Containers)
            {
                if (container["image"].Text is not { } image || RoleOfImage(image) is not { } role)
                    continue;
                var settings = Settings.Defaults(role);
                var args = container["args"].Strings.ToList();
                var config = args.IndexOf("--config") is var i && i >= 0 && i + 1 < args.Count ? args[i + 1] : null;
                string? configFile = null;
                if (config is not null)
                {
                    configFile = manifests.MountedGeneratedFile(workload, container, config);
                    if (configFile is not null && File.Exists(configFile))
                        settings = settings.WithFile(configFile);
                }
                foreach (var (name, value) in ContainerEnv.Of(container))
                    settings = settings.WithEnv(name, value);
                found.Add(new RoleContainer(workload, container, role, configFile, settings));
            }
        }
        return found;
    }
}
