# The CPU silo image from a silo published on the host (artifacts/publish/silo), for machines where no registry
# (and so no SDK image) can be reached. Same runtime layout as the `final` stage of
# Silos/OrleansInference.Silo/Dockerfile; used through deploy/podman/compose.override.yml.
ARG RUNTIME_IMAGE=localhost/orleans-inference/aspnet:10.0
FROM ${RUNTIME_IMAGE}
ARG APP_UID=1654
ENV ASPNETCORE_HTTP_PORTS= \
    ASPNETCORE_URLS=http://0.0.0.0:8000
WORKDIR /app
COPY artifacts/publish/silo/ ./
USER ${APP_UID}
EXPOSE 8000 11111 30000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000 && printf 'GET /v2/health/ready HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["dotnet", "OrleansInference.Silo.dll"]
