# A local stand-in for mcr.microsoft.com/dotnet/sdk:10.0: the ASP.NET base image plus this machine's .NET SDK, and a
# folder feed with the silo's NuGet packages (containers here reach no package registry they trust).
# Build context: a folder with the SDK's sdk/, packs/, sdk-manifests/, templates/, nuget-feed/ and NuGet.Config,
# staged by deploy/podman/build-images.sh --from-source.
ARG RUNTIME_IMAGE=localhost/orleans-inference/aspnet:10.0
FROM ${RUNTIME_IMAGE}
USER root
COPY sdk /usr/share/dotnet/sdk
COPY packs /usr/share/dotnet/packs
COPY sdk-manifests /usr/share/dotnet/sdk-manifests
COPY templates /usr/share/dotnet/templates
COPY nuget-feed /nuget-feed
COPY NuGet.Config /root/.nuget/NuGet/NuGet.Config
ENV DOTNET_NOLOGO=true \
    DOTNET_CLI_TELEMETRY_OPTOUT=true \
    DOTNET_GENERATE_ASPNET_CERTIFICATE=false \
    NUGET_XMLDOC_MODE=skip
WORKDIR /
