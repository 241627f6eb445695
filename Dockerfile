# syntax=docker/dockerfile:1
# The operator image: the static binary /helpdesk-operator on distroless (no shell).
# The manager runs `helpdesk-operator manager`; backup, drill and restore pods copy
# /helpdesk-operator into the PostgreSQL image with an init container that runs
# `helpdesk-operator copy-binary`, so the image needs nothing but the binary.
#
#   make docker-build IMG=registry.example.com/helpdesk-operator:v0.1.0
#
# Base images pinned by digest, so a rebuild uses exactly the same bases. This repository is
# built where no registry is reachable, so the digests could not be resolved here: they are
# the ones public projects pinned for these tags in 2026 (golang:1.26-bookworm, and
# distroless static-debian12:nonroot as of 2026-08-26). Refresh them at release time with
# `crane digest <image>` (or `docker buildx imagetools inspect <image>`). The e2e tests build
# the operator image without Docker (hack/e2e-images.sh), so this file's build is not tested.

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d AS builder
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

FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
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
