# syntax=docker/dockerfile:1
# Multi-stage build: a static chat-bridge binary on a distroless base,
# running as an unprivileged user, with the bbolt store on a volume.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/bridge ./cmd/bridge

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bridge /usr/local/bin/bridge
# The store lives on a volume; point [store] path at it (see docker-compose.yml).
VOLUME ["/data"]
WORKDIR /data
USER nonroot:nonroot
EXPOSE 9090
ENV BRIDGE_CONFIG=/etc/chat-bridge/config.toml
ENTRYPOINT ["/usr/local/bin/bridge"]
CMD ["run"]
