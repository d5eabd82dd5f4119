using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowMesh.Hosting;
using FlowMesh.Node.Kernel;

namespace FlowMesh.Node.Cli;

/// <summary>
/// <c>capture</c>: FlowMesh's "tcpdump for connection lifecycles". Loads the programs,
/// prints every TCP event as it happens, and at exit the counts per CPU. No cluster,
/// no Redis.
/// </summary>
internal static class CaptureCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "One JSON object per line instead of a table (states named as in the kernel, e.g. TCP_SYN_SENT)." };
        var netns = new Option<string>("--netns")
        {
            Description = "Network namespace to capture: a name from `ip netns list`, a path such as /proc/PID/ns/net, 'self' (this process's) or 'all'.",
            HelpName = "NAME",
            DefaultValueFactory = _ => "self",
        };
        var ports = new Option<ushort[]>("--port", "-p")
        {
            Description = "Only connections with this port at either end (repeat for several, up to 16).",
            HelpName = "P",
            AllowMultipleArgumentsPerToken = false,
        };
        var excludePorts = new Option<ushort[]>("--exclude-port")
        {
            Description = "Never connections with this port at either end (repeatable, up to 16).",
            HelpName = "P",
        };
        var duration = new Option<double?>("--duration", "-d")
        {
            Description = "Stop after this many seconds (default: until Ctrl-C).",
            HelpName = "SECONDS",
        };
        var noExisting = new Option<bool>("--no-existing") { Description = "Do not list the connections already open at start." };
        var ringSize = new Option<uint>("--ring-size")
        {
            Description = "Bytes per CPU ring buffer (power of two, at least a page).",
            HelpName = "BYTES",
            DefaultValueFactory = _ => CaptureOptions.DefaultRingBytes,
        };
        var pollMs = new Option<int>("--poll-ms")
        {
            Description = "How often each reader polls its ring when not woken.",
            HelpName = "MS",
            DefaultValueFactory = _ => CaptureOptions.DefaultPollMs,
        };
        var wakeupBytes = new Option<uint?>("--wakeup-bytes")
        {
            Description = "Wake a reader early once this many bytes wait (default: a quarter of the ring; 0: poll only).",
            HelpName = "BYTES",
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Also print libbpf's messages." };
        var injectTag = new Option<bool>("--inject-tag")
        {
            Description = "Write a trace tag (an experimental TCP option) into the SYNs this namespace sends. Tags from other hosts are shown either way.",
        };
        var bpfObject = new Option<string?>("--bpf-object")
        {
            Description = "The BPF object to load (default: capture.bpf.o beside this program).",
            HelpName = "PATH",
        };

        duration.Validators.Add(r =>
        {
            if (r.GetValue(duration) is <= 0)
                r.AddError("--duration must be a positive number of seconds");
        });

        var command = new Command("capture", """
            Print every TCP connection event on this host as it happens (state changes from SYN
            to FIN/RST, retransmissions, resets), then per-CPU counts of records, drops and
            malformed records. Needs root. Example: capture --port 443 --json --duration 10
            """)
        {
            json, netns, ports, excludePorts, duration, noExisting, ringSize, pollMs, wakeupBytes, verbose, bpfObject, injectTag,
        };

        command.SetAction(async (parse, cancellation) =>
        {
            var options = new CaptureOptions
            {
                NetNs = parse.GetValue(netns) ?? "self",
                IncludePorts = parse.GetValue(ports) ?? [],
                ExcludePorts = parse.GetValue(excludePorts) ?? [],
                RingBytes = parse.GetValue(ringSize),
                PollMs = parse.GetValue(pollMs),
                WakeupBytes = parse.GetValue(wakeupBytes),
                ReportExistingSockets = !parse.GetValue(noExisting),
                BpfObjectPath = parse.GetValue(bpfObject),
                InjectTag = parse.GetValue(injectTag),
            };
            var seconds = parse.GetValue(duration);
            return await RunAsync(options, parse.GetValue(json), parse.GetValue(verbose),
                seconds is { } s ? TimeSpan.FromSeconds(s) : null, cancellation).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(CaptureOptions options, bool json, bool verbose, TimeSpan? duration, CancellationToken cancellation)
    {
        var status = Console.Error;
        if (verbose)
        {
            LibBpfLog.Verbosity = Kernel.Native.LibBpf.LIBBPF_INFO;
            LibBpfLog.Echo = message => status.WriteLine($"libbpf: {message}");
        }

        using var shutdown = new ShutdownSignal(cancellation);
        var sink = new ConsoleSink();
        CaptureSession session;
        try
        {
            session = CaptureSession.Start(options, sink);
        }
        catch (CaptureStartException ex)
        {
            await status.WriteLineAsync($"flowmesh: error: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        var started = Stopwatch.StartNew();
        using (session)
        {
            using EventFormatter formatter = json
                ? new JsonEventFormatter(Console.OpenStandardOutput(), session.Clock)
                : new TableEventFormatter(new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false }, session.Clock,
                    color: !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null);
            formatter.WriteHeader();
            var printing = Task.Run(() => sink.PrintAsync(formatter), CancellationToken.None);

            var portsText = options.IncludePorts.Count > 0 ? $", ports {string.Join(",", options.IncludePorts)}" : "";
            await status.WriteLineAsync(
                $"flowmesh: capturing TCP on {session.Cpus} CPUs in {session.Namespace}{portsText}; " +
                $"{session.ExistingSockets} connections already open; " +
                (duration is { } d ? $"stopping after {d.TotalSeconds:0.###} s" : "Ctrl-C to stop")).ConfigureAwait(false);

            try
            {
                await Task.Delay(duration ?? Timeout.InfiniteTimeSpan, shutdown.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ctrl-C: the normal way to stop.
            }

            var summary = session.Stop();
            sink.Complete();
            await printing.ConfigureAwait(false);
            WriteSummary(status, summary, session.ExistingSockets, started.Elapsed, json);
        }
        return 0;
    }

    private static void WriteSummary(TextWriter output, CaptureSummary summary, int existing, TimeSpan elapsed, bool json)
    {
        if (json)
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteStartObject("summary");
                w.WriteNumber("seconds", Math.Round(elapsed.TotalSeconds, 3));
                w.WriteNumber("records", summary.Records);
                w.WriteNumber("drops", summary.Drops);
                w.WriteNumber("decodeErrors", summary.DecodeErrors);
                w.WriteNumber("storageFailures", summary.StorageFailures);
                w.WriteNumber("existingSockets", existing);
                w.WriteStartArray("cpus");
                foreach (var c in summary.Cpus)
                {
                    w.WriteStartObject();
                    w.WriteNumber("cpu", c.Cpu);
                    w.WriteNumber("records", c.Records);
                    w.WriteNumber("drops", c.Drops);
                    w.WriteNumber("decodeErrors", c.DecodeErrors);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteEndObject();
            }
            output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
            return;
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"flowmesh: stopped after {elapsed.TotalSeconds:0.0} s"));
        output.WriteLine("  CPU    RECORDS      DROPS  DECODE-ERRORS");
        foreach (var c in summary.Cpus)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {c.Cpu,3} {c.Records,10} {c.Drops,10} {c.DecodeErrors,14}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  all {summary.Records,10} {summary.Drops,10} {summary.DecodeErrors,14}"));
        if (summary.Drops > 0)
            output.WriteLine("flowmesh: some events were dropped because a ring buffer was full: try a larger --ring-size");
    }
}
