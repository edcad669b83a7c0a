# The manager's container image: a static binary on distroless, as a
# non-root user. Build it with `make docker-build IMG=...` where a container
# engine runs (the project's development machines have none).

# Build the manager binary
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Copy the Go module manifests and download the dependencies first, so that
# they are cached in a layer of their own.
COPY go.mod go.mod
COPY go.sum go.sum
RUN go mod download

# Copy the Go source: the manager that ships (cmd/manager) and what it
# imports; not the local runner of `make run` at the top of the repository.
COPY cmd/manager/ cmd/manager/
COPY api/ api/
COPY controllers/ controllers/
COPY execloop/ execloop/
COPY internal/ internal/

# A static binary: CGO off.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath -ldflags=-s -o manager ./cmd/manager

# Use distroless as minimal base image to package the manager binary
# Refer to https://github.com/GoogleContainerTools/distroless for more details
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532

ENTRYPOINT ["/manager"]
