# Image: flowmesh/node, the per-host agent (deploy/kubernetes/node.yaml).
# Build from the repository root:
#   docker build -f deploy/images/node.Dockerfile -t flowmesh/node .
# The BPF build turns the build machine's /sys/kernel/btf/vmlinux into vmlinux.h (a
# build container sees the host's). Any kernel with BTF will do: the object is CO-RE
# and is relocated against the kernel it runs on.

FROM mcr.microsoft.com/dotnet/sdk:10.0-trixie-slim AS build
# The Node's build runs `make -C bpf`: clang, llvm, libbpf-dev, bpftool, make, gcc, and
# libc6-dev for the record layout probe (gcc only recommends it).
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang llvm libbpf-dev bpftool make gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The csproj places capture.bpf.o beside the binary and publish carries it along;
# `test -f` stops the build if that ever changes.
RUN dotnet publish Node/FlowMesh.Node.csproj -c Release -o /app \
 && test -f /app/capture.bpf.o

# aspnet rather than runtime: Proto.Remote serves the cluster port with ASP.NET Core.
FROM mcr.microsoft.com/dotnet/aspnet:10.0-trixie-slim
# libbpf is loaded at run time (P/Invoke to libbpf.so.1).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 \
 && rm -rf /var/lib/apt/lists/*
# The base image asks ASP.NET Core to listen on 8080. FlowMesh listens only where its
# settings say, and would warn at every start that it overrides that address.
ENV ASPNETCORE_HTTP_PORTS=
WORKDIR /app
COPY --from=build /app ./
# Runs as root: Kubernetes grants the capabilities the capture needs only to uid 0.
ENTRYPOINT ["dotnet", "/app/FlowMesh.Node.dll"]
CMD ["run"]
