# syntax=docker/dockerfile:1
# extauthz: one static binary on a distroless, non-root base. Build: docker build -t extauthz .

# --- build: the Go toolchain the module is developed with, pinned exactly.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
# Module downloads first, so source edits do not refetch them.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO_ENABLED=0: a static binary that needs no libc in the runtime image.
# -trimpath: no build-machine paths in the binary; -s -w: no symbol tables (smaller).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/extauthz ./cmd/extauthz
# The socket directory of the isolated layout (docs/deploy-sidecar.md), made here because the
# runtime image has no shell: only its owner (extauthz) and its group (Envoy's, in that layout)
# may enter it. A volume mounted there starts with this owner and mode.
RUN mkdir -p /out/run/extauthz && chmod 0770 /out/run/extauthz

# --- runtime: distroless static (CA certificates, tzdata, /etc/passwd; no shell, no curl).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/extauthz /extauthz
COPY --from=build --chown=65532:65532 /out/run/ /run/
# The image's "nonroot" user, by number so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# By default Check, the access-log stream and the admin API are on unix sockets in
# /run/extauthz, which a container shares only with the Envoy that mounts the same volume
# (whoever can call Check can take the credential); add EXTAUTHZ_ALLOWED_CALLERS=uid:<Envoy's uid>.
# A mesh deployment sets EXTAUTHZ_GRPC_ADDR=0.0.0.0:9191 itself, with client certificates or its
# mesh's controls (envoy/mesh/). The HTTP port carries /healthz, /readyz and /metrics for probes.
ENV EXTAUTHZ_GRPC_ADDR=unix:/run/extauthz/extauthz.sock \
    EXTAUTHZ_ADMIN_ADDR=unix:/run/extauthz/admin.sock \
    EXTAUTHZ_HTTP_ADDR=0.0.0.0:9192
EXPOSE 9192
# There is no curl here: the binary itself asks grpc.health.v1 on EXTAUTHZ_GRPC_ADDR (the socket)
# and exits 0 only when SERVING (a token is cached). start-period covers the first token exchange.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["/extauthz", "health"]
ENTRYPOINT ["/extauthz"]
CMD ["serve"]
