# Builds the operator's two images from one source tree:
#   docker build --target manager    -t ghcr.io/memorymcp/memory-mcp-operator:v0.1.0 .
#   docker build --target mcp-server -t ghcr.io/memorymcp/mcp-server:v0.1.0 .
# Both binaries are static (CGO_ENABLED=0: the SQLite store is pure Go), so
# the runtime images carry no libc, shell or package manager.

FROM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
WORKDIR /src

# Dependencies first, in their own layer, so source edits reuse the cache.
COPY go.mod go.sum ./
RUN go mod download

COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/

ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}
RUN go build -trimpath -ldflags "-s -w" -o /out/manager ./cmd/manager
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/mcp-server ./cmd/mcp-server

FROM gcr.io/distroless/static:nonroot AS manager
WORKDIR /
COPY --from=builder /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]

FROM gcr.io/distroless/static:nonroot AS mcp-server
WORKDIR /
COPY --from=builder /out/mcp-server /mcp-server
USER 65532:65532
ENTRYPOINT ["/mcp-server"]
