# Image: flowmesh/aggregator, sessions and the gateway (deploy/kubernetes/aggregator.yaml).
# Build from the repository root:
#   docker build -f deploy/images/aggregator.Dockerfile -t flowmesh/aggregator .

FROM mcr.microsoft.com/dotnet/sdk:10.0-trixie-slim AS build
WORKDIR /src
COPY . .
RUN dotnet publish Aggregator/FlowMesh.Aggregator.csproj -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0-trixie-slim
# The base image asks ASP.NET Core to listen on 8080. FlowMesh listens only where its
# settings say, and would warn at every start that it overrides that address.
ENV ASPNETCORE_HTTP_PORTS=
WORKDIR /app
COPY --from=build /app ./
# No privileges needed: the image's unprivileged "app" user.
USER $APP_UID
ENTRYPOINT ["dotnet", "/app/FlowMesh.Aggregator.dll"]
CMD ["run"]
