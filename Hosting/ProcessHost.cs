using FlowMesh.Cluster;
using FlowMesh.Cluster.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FlowMesh.Hosting;

/// <summary>
/// How every FlowMesh process (Node, Aggregator) builds its Generic Host: settings from
/// appsettings.json beside the binary, then a --config file, then FLOWMESH_* environment
/// variables (sections joined by a double underscore: FLOWMESH_CLUSTER__REDIS), then
/// command-line flags, each overriding the one before; console logs as text or JSON.
/// </summary>
public static class ProcessHost
{
    /// <summary>A builder with configuration and logging set; throws <see cref="FileNotFoundException"/> for a missing --config file.</summary>
    public static HostApplicationBuilder CreateBuilder(string? configFile, IReadOnlyDictionary<string, string?> flags)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true);
        if (configFile is not null)
        {
            if (!File.Exists(configFile))
                throw new FileNotFoundException($"settings file {configFile} not found", configFile);
            builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false);
        }
        builder.Configuration.AddEnvironmentVariables("FLOWMESH_");
        builder.Configuration.AddInMemoryCollection(flags);

        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        if (string.Equals(builder.Configuration["Logging:Format"], "json", StringComparison.OrdinalIgnoreCase))
        {
            builder.Logging.AddJsonConsole(o => o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ");
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.TimestampFormat = "HH:mm:ss.fff ";
                o.SingleLine = true;
            });
        }
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        return builder;
    }

    /// <summary>As <see cref="CreateBuilder"/>, or null after printing the one-line error for a missing --config file.</summary>
    public static HostApplicationBuilder? TryCreateBuilder(string? configFile, IReadOnlyDictionary<string, string?> flags)
    {
        try
        {
            return CreateBuilder(configFile, flags);
        }
        catch (FileNotFoundException e)
        {
            Console.Error.WriteLine($"flowmesh: error: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// Before a member's host starts: throws <see cref="RedisCredentialsException"/> when
    /// Redis refuses the credentials (a Redis that is down is not an error: members wait for it).
    /// </summary>
    public static async Task CheckRedisAsync(ClusterSettings settings)
    {
        var connection = await RedisConnection.ConnectAsync(settings.Redis, NullLogger.Instance).ConfigureAwait(false);
        await connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The Cluster section, its TLS material loaded; throws <see cref="FlowMesh.Cluster.Transport.ClusterTlsException"/> (one line) when that cannot work.</summary>
    public static ClusterSettings ClusterSettings(IConfiguration configuration)
    {
        var s = configuration.GetSection("Cluster");
        var defaults = new ClusterSettings();
        var bind = s["BindAddress"] ?? defaults.BindAddress;
        return new ClusterSettings
        {
            Name = s["Name"] ?? defaults.Name,
            Redis = s["Redis"] ?? defaults.Redis,
            Tls = FlowMesh.Cluster.ClusterSettings.LoadTls(s["Tls:Ca"], s["Tls:Cert"], s["Tls:Key"], bind),
            BindAddress = bind,
            Port = s.GetValue("Port", defaults.Port),
            AdvertisedAddress = string.IsNullOrEmpty(s["AdvertisedAddress"]) ? null : s["AdvertisedAddress"],
            MemberTtl = TimeSpan.FromSeconds(s.GetValue("MemberTtlSeconds", defaults.MemberTtl.TotalSeconds)),
            RequestTimeout = TimeSpan.FromSeconds(s.GetValue("RequestTimeoutSeconds", defaults.RequestTimeout.TotalSeconds)),
        };
    }
}
