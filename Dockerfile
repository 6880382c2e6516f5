# syntax=docker/dockerfile:1
#
# Ripple container image: a static binary on distroless, running as non-root.
#
#   docker build -t ripple .
#   docker run --rm -p 1935:1935 -p 8080:8080 ripple
#   docker run --rm -p 1935:1935 -p 8080:8080 \
#     -v "$PWD/ripple.yaml:/etc/ripple/ripple.yaml:ro" ripple -c /etc/ripple/ripple.yaml
#
# Configure with RIPPLE_* environment variables (e.g. -e RIPPLE_LOG_LEVEL=debug)
# or a mounted YAML file passed with -c; see ripple.example.yaml.
#
# Lifecycle: `docker stop` sends SIGTERM; Ripple drains (players and
# publishers are told, HTTP requests finish) within shutdown_delay +
# shutdown_timeout, so give it `docker stop --time` above that. SIGHUP
# (`docker kill -s HUP`) reloads the configuration. Kubernetes manifests,
# an nginx example and CDN notes: scripts/deploy/README.md.

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod/go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO off: a fully static binary that runs on distroless/static (no libc).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/ripple ./cmd/ripple

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ripple /usr/local/bin/ripple
# 65532:65532; both ports are above 1024, so no capabilities are needed.
USER nonroot:nonroot
# 1935 RTMP ingest and play; 8080 HTTP-FLV, WebSocket-FLV, HLS, the API and the page.
EXPOSE 1935 8080
# Distroless has no shell or curl: the binary probes itself. It reads the
# same configuration (-c is not seen here: if a file moves http.listen, set
# RIPPLE_HTTP_LISTEN instead, or override --health-cmd) and GETs /healthz,
# which stays 200 while draining; readiness (/readyz) is for orchestrators.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/ripple", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/ripple"]
