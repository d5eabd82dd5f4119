using FlowMesh.Workloads.GcServer;

return await Server.RunAsync(args).ConfigureAwait(false);
