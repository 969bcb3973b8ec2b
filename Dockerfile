# syntax=docker/dockerfile:1
# Multi-stage build: a static chat-bridge binary on a distroless base,
# running as an unprivileged user, with the bbolt store on a volume.
#
#   docker build -t chat-bridge .
#   docker run --rm -v "$PWD/config.toml:/etc/chat-bridge/config.toml:ro" \
#     -v chat-bridge-data:/data --env-file .env -p 127.0.0.1:9090:9090 chat-bridge
#
# In the config: [store] path = "/data/bridge.db" and
# [http] listen = "0.0.0.0:9090" (the health check probes it).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /usr/local/bin/chat-bridge ./cmd/bridge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /usr/local/bin/chat-bridge /usr/local/bin/chat-bridge
VOLUME ["/data"]
WORKDIR /data
USER nonroot:nonroot
EXPOSE 9090
ENV BRIDGE_CONFIG=/etc/chat-bridge/config.toml
# Probes http://<[http] listen>/healthz; exit 0 healthy, 1 not.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/chat-bridge", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/chat-bridge"]
CMD ["run"]
