# syntax=docker/dockerfile:1
# The operator image: the static binary /helpdesk-operator on distroless (no shell).
# The manager runs `helpdesk-operator manager`; backup, drill and restore pods copy
# /helpdesk-operator into the PostgreSQL image with an init container that runs
# `helpdesk-operator copy-binary`, so the image needs nothing but the binary.
#
#   make docker-build IMG=registry.example.com/helpdesk-operator:v0.1.0
#
# Base images by tag: this repository is built where no registry is reachable, so their
# digests could not be read here. Pin them at release time (append @sha256:... from
# `docker buildx imagetools inspect <image>`) so a rebuild uses exactly the same bases.

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS builder
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
ENV GOTOOLCHAIN=local CGO_ENABLED=0
WORKDIR /src

# Dependencies first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath \
      -ldflags="-s -w -X github.com/privatedesk/helpdesk-operator/internal/version.Version=${VERSION} -X github.com/privatedesk/helpdesk-operator/internal/version.Commit=${COMMIT}" \
      -o /out/helpdesk-operator ./cmd/helpdesk-operator

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="helpdesk-operator" \
      org.opencontainers.image.description="Kubernetes operator for isolated, privacy-hardened helpdesks" \
      org.opencontainers.image.source="https://github.com/privatedesk/helpdesk-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=builder /out/helpdesk-operator /helpdesk-operator
USER 65532:65532
ENTRYPOINT ["/helpdesk-operator"]
CMD ["manager"]
